// Installs the system packages the tests need on a fresh machine (Debian): Chromium for the webview
// and renderer tests and for driving VS Code's workbench, Kerberos headers for the one native module
// of VS Code's server that has no prebuilt binary (kerberos, built by the integration setup), and a
// software Vulkan driver (Mesa's lavapipe) so the WebGPU provider's own kernels run in the tests
// (test/unit/engine/parity.test.ts). Dawn needs a lavapipe newer than bookworm's Mesa 22.3 (it lacks
// shaderUniform*ArrayDynamicIndexing), so on bookworm it comes from Debian's bookworm-backports.
// Does nothing when they are already there.
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const need = [];
if (!existsSync('/usr/bin/chromium')) need.push('chromium');
if (!existsSync('/usr/include/gssapi/gssapi.h')) need.push('libkrb5-dev');

/** the installed Mesa Vulkan drivers' major version, 0 when none */
function mesaVulkanMajor() {
  try {
    const v = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Number(/^(\d+)/.exec(v)?.[1] ?? 0);
  } catch {
    return 0;
  }
}
const codename = existsSync('/etc/os-release') ? (/^VERSION_CODENAME=(\S+)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '') : '';
const root = !process.getuid || process.getuid() === 0;
const noLavapipe = process.platform === 'linux' && mesaVulkanMajor() < 24;
// optional: without it the WebGPU tests skip, except in CI, where they must run
const backports = noLavapipe && codename === 'bookworm' && root;
if (noLavapipe && !backports) console.log('test setup: no Mesa lavapipe 24 or later here: the WebGPU tests skip outside CI');

if (need.length && !root) {
  console.error(`test setup: please install ${need.join(' ')} (apt-get install ${need.join(' ')})`);
  process.exit(1);
}
if (need.length || backports) {
  const apt = 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends';
  console.log(
    `test setup: apt-get install ${[...need, ...(backports ? ['libvulkan1', 'mesa-vulkan-drivers (bookworm-backports)'] : [])].join(', ')}`,
  );
  if (backports && !existsSync('/etc/apt/sources.list.d/scalekv-backports.sources'))
    writeFileSync(
      '/etc/apt/sources.list.d/scalekv-backports.sources',
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
  execSync('apt-get update -qq', { stdio: 'inherit' });
  if (need.length) execSync(`${apt} ${need.join(' ')}`, { stdio: 'inherit' });
  // optional: if it cannot be installed the tests go on, and the WebGPU tests say why they cannot run
  if (backports)
    try {
      execSync(`${apt} libvulkan1 && ${apt} -t bookworm-backports mesa-vulkan-drivers`, { stdio: 'inherit' });
    } catch (e) {
      console.error(`test setup: lavapipe could not be installed (${e.message.split('\n')[0]})`);
    }
}
