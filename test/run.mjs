// The test command: type-check and compile, build the bundles and the embedded tiny model, then run
// every test file (unit, browser, integration) in one `node --test` run so there is one summary.
// The whole suite (no file filter, as CI runs it) first checks formatting and lints.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', ...opts });

const only = process.argv.slice(2);
if (!only.length) {
  run('npx', ['prettier', '--check', '--log-level', 'warn', '.']);
  run('npx', ['eslint', '.']);
}
run('node', ['test/setup.mjs']);
run('node', ['test/integration/installVsCode.mjs']);
run('npx', ['tsc', '-p', 'tsconfig.json']);
run('node', ['esbuild.mjs']);
// the tests read the tiny model's calibrated profiles (the build writes it uncalibrated)
run('node', ['dist/cli.js', 'make-tiny', '--if-missing', '--calibrate', '--out', 'media/models/tiny-infinity']);

function find(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) find(p, out);
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = find('out/test').sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
