#!/usr/bin/env node
// Where onnxruntime-node's com.microsoft.MultiHeadAttention works, and where it aborts (issue 9, part 2).
//
// One MultiHeadAttention node, nothing else, at the attention shapes of Infinity-2B at 1024x1024 with CFG
// (batch 2, 16 heads of 128; queries = the scale's tokens, keys = every token so far, from 1 x 1 up to
// 4096 x 10521), in float32 and float16, fed from CPU tensors and from 'gpu-buffer' tensors that another
// session produced (how the engine's graphs would feed it). Each case runs in its own process, because
// the failure seen on the H100 was an assertion in the WebGPU buffer manager that aborted the process;
// a case ends as ok (with its error against a float64 reference on sampled query rows), wrong, error (the
// runtime's message), abort (the signal), hang (past --timeout) or silent (exit 0 without a result). When a
// series (dtype, feed) goes from ok to a failure, the keys are bisected at that query count, so the report
// names the smallest failing shape. The graphs are written here as ONNX protobuf bytes, so the script
// needs nothing but onnxruntime-node (the GPU machine has no other packages).
//
//   node bench/mha-repro.mjs [--provider webgpu|cuda|cpu] [--feeds cpu,gpu-buffer] [--out FILE.json] [--timeout 120] [--quick]
//   node bench/mha-repro.mjs --case '{"dtype":"float16","feed":"gpu-buffer","Lq":4096,"Lk":10521}' (one case)
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const provider = opt('provider', 'webgpu');
const B = 2;
const H = 16;
const D = 128;

// ---- a minimal ONNX protobuf writer (onnx.proto field numbers) ------------------------------------------
const varint = (n) => {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const bytesOf = (s) => [...Buffer.from(s, 'utf8')];
const field = (no, payload) => [...varint((no << 3) | 2), ...varint(payload.length), ...payload];
const int = (no, n) => [...varint(no << 3), ...varint(n)];
const str = (no, s) => field(no, bytesOf(s));
const dim = (d) => field(1, typeof d === 'number' ? int(1, d) : str(2, d));
const valueInfo = (name, elem, dims) => [...str(1, name), ...field(2, field(1, [...int(1, elem), ...field(2, dims.flatMap(dim))]))];
const node = (op, domain, inputs, outputs, attrs = []) => [
  ...inputs.flatMap((x) => str(1, x)),
  ...outputs.flatMap((x) => str(2, x)),
  ...str(3, `${op}_${outputs[0]}`), // node names must be unique within a graph
  ...str(4, op),
  ...attrs.flatMap(([name, i]) => field(5, [...str(1, name), ...int(3, i), ...int(20, 2)])),
  ...(domain ? str(7, domain) : []),
];
const model = (nodes, inputs, outputs) =>
  Uint8Array.from([
    ...int(1, 8), // ir_version 8
    ...str(2, 'scalekv-mha-repro'),
    ...field(7, [...nodes.flatMap((n) => field(1, n)), ...str(2, 'g'), ...inputs.flatMap((v) => field(11, v)), ...outputs.flatMap((v) => field(12, v))]),
    ...field(8, [...str(1, ''), ...int(2, 17)]),
    ...field(8, [...str(1, 'com.microsoft'), ...int(2, 1)]),
  ]);
const ELEM = { float32: 1, float16: 10 };
const qkvDims = (L) => ['B', L, H * D];
function mhaModel(dtype) {
  const e = ELEM[dtype];
  return model(
    [node('MultiHeadAttention', 'com.microsoft', ['q', 'k', 'v'], ['o'], [['num_heads', H]])],
    [valueInfo('q', e, qkvDims('Lq')), valueInfo('k', e, qkvDims('Lk')), valueInfo('v', e, qkvDims('Lk'))],
    [valueInfo('o', e, qkvDims('Lq'))],
  );
}
/** q, k, v in, the same out: run with preferredOutputLocation 'gpu-buffer' it leaves them on the device */
function producerModel(dtype) {
  const e = ELEM[dtype];
  return model(
    ['q', 'k', 'v'].map((n) => node('Identity', '', [`${n}_in`], [n])),
    [valueInfo('q_in', e, qkvDims('Lq')), valueInfo('k_in', e, qkvDims('Lk')), valueInfo('v_in', e, qkvDims('Lk'))],
    [valueInfo('q', e, qkvDims('Lq')), valueInfo('k', e, qkvDims('Lk')), valueInfo('v', e, qkvDims('Lk'))],
  );
}

// ---- float16 <-> float32 -------------------------------------------------------------------------------
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(x) {
  f32[0] = x;
  const b = u32[0];
  const s = (b >>> 16) & 0x8000;
  const e = ((b >>> 23) & 0xff) - 127 + 15;
  const m = b & 0x7fffff;
  if (e <= 0) return s; // the inputs here are far from the subnormal range
  if (e >= 31) return s | 0x7c00;
  const r = (e << 10) | (m >>> 13);
  return s | (r + ((m >>> 12) & 1)); // round half up on the dropped bits
}
function fromHalf(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// ---- one case, in this process -------------------------------------------------------------------------
async function runCase(c) {
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node');
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const make = (L) => Float32Array.from({ length: B * L * H * D }, rand);
  const q = make(c.Lq);
  const k = make(c.Lk);
  const v = make(c.Lk);
  const tensor = (x, L) =>
    c.dtype === 'float16' ? new ort.Tensor('float16', Uint16Array.from(x, toHalf), [B, L, H * D]) : new ort.Tensor('float32', x, [B, L, H * D]);
  const opts = { executionProviders: [provider], graphOptimizationLevel: 'all' };
  const mha = await ort.InferenceSession.create(mhaModel(c.dtype), opts);
  let feeds = { q: tensor(q, c.Lq), k: tensor(k, c.Lk), v: tensor(v, c.Lk) };
  let producer = null;
  if (c.feed === 'gpu-buffer') {
    producer = await ort.InferenceSession.create(producerModel(c.dtype), {
      ...opts,
      preferredOutputLocation: { q: 'gpu-buffer', k: 'gpu-buffer', v: 'gpu-buffer' },
    });
    feeds = await producer.run({ q_in: feeds.q, k_in: feeds.k, v_in: feeds.v });
    if (feeds.q.location !== 'gpu-buffer') throw new Error(`the producer returned ${feeds.q.location} tensors, not gpu-buffer`);
  }
  const t0 = performance.now();
  const { o } = await mha.run(feeds);
  const out = o.location === 'cpu' ? o.data : await o.getData();
  const ms = performance.now() - t0;
  // the float64 reference on a few query rows of each batch and head (rounded inputs for float16)
  const round = c.dtype === 'float16' ? (x) => fromHalf(toHalf(x)) : (x) => x;
  const value = c.dtype === 'float16' ? (i) => fromHalf(out[i]) : (i) => out[i];
  const rows = [...new Set([0, c.Lq - 1, Math.floor(c.Lq / 2), Math.floor(c.Lq / 3)])];
  let maxErr = 0;
  let maxRef = 0;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (const i of rows) {
        const qi = (j) => round(q[(b * c.Lq + i) * H * D + h * D + j]);
        const s = new Float64Array(c.Lk);
        for (let t = 0; t < c.Lk; t++) {
          let a = 0;
          for (let j = 0; j < D; j++) a += qi(j) * round(k[(b * c.Lk + t) * H * D + h * D + j]);
          s[t] = a / Math.sqrt(D);
        }
        const mx = s.reduce((a, x) => Math.max(a, x), -Infinity);
        let z = 0;
        for (let t = 0; t < c.Lk; t++) z += s[t] = Math.exp(s[t] - mx);
        for (let j = 0; j < D; j++) {
          let r = 0;
          for (let t = 0; t < c.Lk; t++) r += (s[t] / z) * round(v[(b * c.Lk + t) * H * D + h * D + j]);
          maxRef = Math.max(maxRef, Math.abs(r));
          maxErr = Math.max(maxErr, Math.abs(value((b * c.Lq + i) * H * D + h * D + j) - r));
        }
      }
  await mha.release();
  await producer?.release();
  const tol = c.dtype === 'float16' ? 2e-2 : 1e-4;
  return { status: maxErr / Math.max(maxRef, 1e-6) <= tol ? 'ok' : 'wrong', maxErr, maxRef, tol, ms: Math.round(ms) };
}

// ---- the grid, each case in a child process -----------------------------------------------------------
function inChild(c, timeoutS) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--provider', provider, '--case', JSON.stringify(c)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    const t0 = Date.now();
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wall = (Date.now() - t0) / 1000;
      const line = out.trim().split('\n').pop() ?? '';
      let r = null;
      try {
        r = JSON.parse(line);
      } catch {
        /* no result line */
      }
      const tail = err.trim().split('\n').slice(-3).join(' | ').slice(0, 400);
      if (r) done({ ...c, ...r, wall });
      else if (signal === 'SIGKILL' && wall >= timeoutS) done({ ...c, status: 'hang', wall, stderr: tail });
      else if (signal) done({ ...c, status: 'abort', signal, wall, stderr: tail });
      else if (code === 0) done({ ...c, status: 'silent', wall, stderr: tail });
      else done({ ...c, status: 'error', code, wall, stderr: tail });
    });
  });
}

async function main() {
  const one = opt('case', null);
  if (one) {
    try {
      console.log(JSON.stringify(await runCase(JSON.parse(one))));
    } catch (e) {
      console.log(JSON.stringify({ status: 'error', message: String(e?.message ?? e).slice(0, 400) }));
    }
    return;
  }
  const timeoutS = Number(opt('timeout', '120'));
  // Infinity's 1M schedule: each scale's tokens, and every token up to it (the keys)
  const sides = [1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 64];
  let keys = 0;
  let shapes = sides.map((s) => ({ Lq: s * s, Lk: (keys += s * s) }));
  if (args.includes('--quick')) shapes = shapes.filter((s) => s.Lq <= 64);
  const feeds = opt('feeds', provider === 'webgpu' ? 'cpu,gpu-buffer' : 'cpu').split(',');
  const results = [];
  const say = (r) =>
    console.log(
      `${r.dtype} ${r.feed} ${r.Lq}x${r.Lk}: ${r.status}${r.maxErr !== undefined ? ` err ${r.maxErr.toExponential(2)}/${r.maxRef.toFixed(3)}` : ''}${r.ms !== undefined ? ` ${r.ms} ms` : ''}${r.message ? ` ${r.message}` : ''}${r.stderr ? ` [${r.stderr}]` : ''}`,
    );
  for (const dtype of ['float32', 'float16'])
    for (const feed of feeds) {
      let lastOk = null;
      let bisected = false;
      for (const s of shapes) {
        const r = await inChild({ dtype, feed, ...s }, timeoutS);
        results.push(r);
        say(r);
        if (r.status === 'ok') {
          lastOk = r;
          continue;
        }
        if (bisected) continue;
        bisected = true;
        // the smallest failing key count at this query count, between the last good shape and this one
        let lo = lastOk ? Math.min(lastOk.Lk, s.Lk - 1) : 0;
        let hi = s.Lk;
        for (let step = 0; step < 7 && hi - lo > 1; step++) {
          const mid = Math.floor((lo + hi) / 2);
          const m = await inChild({ dtype, feed, Lq: Math.min(s.Lq, mid), Lk: mid, bisect: true }, timeoutS);
          results.push(m);
          say(m);
          if (m.status === 'ok') lo = mid;
          else hi = mid;
        }
      }
    }
  const report = { date: new Date().toISOString(), provider, batch: B, heads: H, headDim: D, timeoutS, results };
  const out = opt('out', null);
  if (out) writeFileSync(out, JSON.stringify(report, null, 1));
  const bad = results.filter((r) => r.status !== 'ok');
  console.log(`${results.length} cases, ${bad.length} not ok`);
}

await main();
