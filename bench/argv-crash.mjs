#!/usr/bin/env node
// Reproduces onnxruntime-node's crash on a long command line, without the CLI's guard: a child
// process that only creates one InferenceSession (a 2x2 MatMul, embedded below) is started with one
// padding argument of N bytes, and N is bisected to the smallest size that kills it. Prints the
// threshold as the total size of the child's argv (every argument plus its terminating NUL), the
// figure src/cli/argvLimit.ts guards against.  Usage: node bench/argv-crash.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const ortPath = require.resolve('onnxruntime-node');
// the engine's provider probe model (kernels/onnx Graph 'probe': y = x @ [[1,2],[3,4]])
const MODEL =
  'CAgSDnNjYWxla3YtdnNjb2RlOpcBCicKAXgKBGNmXzASCG1hdG11bF8xGgpuX01hdE11bF8yIgZNYXRNdWwKJQoIbWF0bXVsXzESAXkaDG5fSWRlbnRpdHlfMyIISWRlbnRpdHkSBXByb2JlKh4IAggCEAFCBGNmXzBKEAAAgD8AAABAAABAQAAAgEBaEwoBeBIOCgwIARIICgIIAgoCCAJiCQoBeRIECgIIAUIECgAQEQ==';
const child = `
const ort = require(${JSON.stringify(ortPath)});
const argvBytes = process.argv.reduce((a, s) => a + Buffer.byteLength(s) + 1, 0) + process.execArgv.reduce((a, s) => a + Buffer.byteLength(s) + 1, 0);
ort.InferenceSession.create(Buffer.from(${JSON.stringify(MODEL)}, 'base64'), { executionProviders: ['cpu'] })
  .then((s) => s.release()).then(() => { console.log(argvBytes); });`;

// a script file, not \`node -e\`: with -e the same argv does not crash
const dir = mkdtempSync(join(tmpdir(), 'scalekv-argv-'));
const script = join(dir, 'session.cjs');
writeFileSync(script, child);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function attempt(pad) {
  const r = spawnSync(process.execPath, [script, 'x'.repeat(pad)], { encoding: 'utf8' });
  return { ok: r.status === 0, status: r.status, signal: r.signal, argvBytes: Number(r.stdout.trim()) || null };
}

let lo = 1024;
let hi = 65536;
if (!attempt(lo).ok) throw new Error(`even ${lo} bytes of argv crash`);
const top = attempt(hi);
if (top.ok) {
  console.log(`no crash up to ${hi} bytes of padding: this onnxruntime-node does not have the bug`);
  process.exit(0);
}
console.log(`${hi} bytes of padding: exit status ${top.status}, signal ${top.signal}`);
while (hi - lo > 1) {
  const mid = (lo + hi) >> 1;
  if (attempt(mid).ok) lo = mid;
  else hi = mid;
}
const last = attempt(lo);
console.log(`largest padding that runs: ${lo} bytes (child argv ${last.argvBytes} bytes in all); ${hi} bytes crashes`);
