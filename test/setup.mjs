// Installs the system packages the tests need on a fresh machine (Debian): Chromium for the webview
// and renderer tests and for driving VS Code's workbench, and Kerberos headers for the one native
// module of VS Code's server that has no prebuilt binary (kerberos, built by the integration setup).
// Does nothing when they are already there.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const need = [];
if (!existsSync('/usr/bin/chromium')) need.push('chromium');
if (!existsSync('/usr/include/gssapi/gssapi.h')) need.push('libkrb5-dev');
if (need.length) {
  if (process.getuid && process.getuid() !== 0) {
    console.error(`test setup: please install ${need.join(' ')} (apt-get install ${need.join(' ')})`);
    process.exit(1);
  }
  console.log(`test setup: apt-get install ${need.join(' ')}`);
  execSync('apt-get update -qq', { stdio: 'inherit' });
  execSync(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${need.join(' ')}`, { stdio: 'inherit' });
}
