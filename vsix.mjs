// Builds the platform-specific .vsix packages (`npm run package`; one target: `node vsix.mjs --target linux-x64`).
//
// VS Code installs a platform-specific extension without running npm, so each package must carry the
// onnxruntime-node that its platform loads, and nothing for the others (four fifths of onnxruntime-node's
// 288 MB are other platforms' binaries). vsce packs node_modules only when it collects dependencies with
// `npm list`, which needs the whole production tree on disk, so each target gets a clean staging folder:
// a production build (no source maps), media/, the example, and the production dependency tree with only
// that target's onnxruntime binaries. The repository's .vscodeignore, copied in, then keeps what runs:
// onnxruntime-node's JS, its binaries and its install metadata (read by "Install CUDA Provider"), and
// onnxruntime-common's CommonJS build; the installer-only packages (adm-zip, global-agent, ...) that
// `npm list` needs to see stay out. Everything here reads local files only: packaging works offline.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const ORT_BIN = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');

/** vsce target -> onnxruntime-node's binary folder (platform/arch, as process.platform/process.arch) */
export const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'darwin-x64': 'darwin/x64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};

/** the repository's README links are relative; in the Marketplace they point at the repository */
function readmeBaseUrls() {
  const url = String(pkg.repository?.url ?? pkg.repository ?? '')
    .replace(/^git\+/, '')
    .replace(/\.git$/, '');
  if (!/^https:\/\/github\.com\//.test(url)) throw new Error(`package.json's repository (${url || 'missing'}) is not a GitHub URL`);
  return ['--baseContentUrl', `${url}/blob/HEAD/`, '--baseImagesUrl', `${url}/raw/HEAD/`];
}

/** the production dependency tree as installed (npm reads node_modules only) */
function productionPackages() {
  const r = spawnSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: root, encoding: 'utf8' });
  const dirs = r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l !== root);
  for (const need of ['onnxruntime-node', 'onnxruntime-common']) {
    if (!dirs.some((d) => basename(d) === need)) throw new Error(`${need} is not installed: run npm ci first`);
  }
  return dirs;
}

const noMaps = (src) => !src.endsWith('.map');

function stage(target, build, dir, deps) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'README.md', 'LICENSE', '.vscodeignore']) cpSync(join(root, f), join(dir, f));
  cpSync(join(root, 'examples'), join(dir, 'examples'), { recursive: true });
  // media/ as built (styles, icon, the embedded model), with this build's webview bundles
  const ownBundles = join(root, 'media', 'dist');
  // the trained infinity-shapes model (the embedded default, 32 MiB with its profiles) and the random tiny one go in
  cpSync(join(root, 'media'), join(dir, 'media'), { recursive: true, filter: (s) => noMaps(s) && !s.startsWith(ownBundles) });
  cpSync(join(build, 'media', 'dist'), join(dir, 'media', 'dist'), { recursive: true, filter: noMaps });
  cpSync(join(build, 'dist'), join(dir, 'dist'), { recursive: true, filter: noMaps });
  if (!existsSync(join(dir, 'media', 'models', 'infinity-shapes', 'manifest.json'))) {
    throw new Error('media/models/infinity-shapes is missing: it is committed (git add -f); check out the whole repository');
  }
  if (!existsSync(join(dir, 'media', 'models', 'tiny-infinity', 'manifest.json'))) {
    throw new Error('media/models/tiny-infinity is missing: run npm run build first (it writes the random test model)');
  }
  const bin = join(ORT_BIN, TARGETS[target]);
  for (const d of deps) {
    const to = join(dir, relative(root, d));
    if (basename(d) === 'onnxruntime-node') {
      // this target's binaries only
      cpSync(d, to, { recursive: true, filter: (s) => s !== join(d, 'bin') });
      cpSync(bin, join(to, relative(d, bin)), { recursive: true });
    } else cpSync(d, to, { recursive: true });
  }
}

function main() {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1] : join(root, 'out', 'vsix');
  const asked = args.flatMap((a, i) => (args[i - 1] === '--target' ? [a] : []));
  for (const t of asked) if (!TARGETS[t]) throw new Error(`unknown target ${t}; known: ${Object.keys(TARGETS).join(', ')}`);
  const targets = asked.length ? asked : Object.keys(TARGETS);
  const t0 = Date.now();
  const build = join(out, 'build');
  rmSync(build, { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'esbuild.mjs'), '--production', '--out-root', build], { cwd: root, stdio: 'inherit' });
  const deps = productionPackages();
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  const made = [];
  for (const target of targets) {
    if (!existsSync(join(ORT_BIN, TARGETS[target]))) {
      // onnxruntime-node 1.30 ships no macOS x64 binaries: a package without its engine is worse than none
      const why = `onnxruntime-node ${onnxVersion()} has no ${TARGETS[target]} binaries`;
      if (asked.length) throw new Error(`cannot package ${target}: ${why}`);
      console.log(`skipped ${target}: ${why}`);
      made.push({ target, skipped: why });
      continue;
    }
    const dir = join(out, 'stage', target);
    stage(target, build, dir, deps);
    const file = join(out, `${pkg.name}-${target}-${pkg.version}.vsix`);
    rmSync(file, { force: true });
    // stdin closed: a yes/no question from vsce (a missing LICENSE or repository) cannot wait for an answer
    execFileSync(process.execPath, [vsce, 'package', '--target', target, '--out', file, ...readmeBaseUrls()], {
      cwd: dir,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    made.push({ target, file: relative(root, file), bytes: statSync(file).size });
    rmSync(dir, { recursive: true, force: true });
  }
  rmSync(build, { recursive: true, force: true });
  writeFileSync(
    join(out, 'packages.json'),
    JSON.stringify(
      { version: pkg.version, onnxruntimeNode: onnxVersion(), seconds: Math.round((Date.now() - t0) / 1000), packages: made },
      null,
      2,
    ) + '\n',
  );
  for (const m of made) if (m.bytes) console.log(`${m.target}: ${m.file} ${(m.bytes / 2 ** 20).toFixed(1)} MiB`);
}

function onnxVersion() {
  return JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
