/**
 * The fused per-scale graphs: float16 conversion, the in-graph token selection against the host's
 * selectKeep (which the scalekv tests hold to the official update_kv) on the graph's own scores, ties
 * included, and a whole ScaleKV generation fused vs layer by layer on the CPU (float32): the same kept
 * tokens in every layer, row and head, and logits within 1e-4 x (1 + max|logit|).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { gatherKept, selectIndices } from '../../../kernels/graphs/kvSelect';
import { scaleStepGraph, type ScaleStepPlan } from '../../../kernels/graphs/scaleStep';
import { Graph } from '../../../kernels/onnx/graph';
import { halfBitsToFloat, toHalfBits } from '../../../kernels/onnx/half';
import { fusedWeightCache, planScales, queryChunkFor } from '../../../src/engine/fusedRunner';
import { generateImages } from '../../../src/engine/generate';
import { InfinitySessions } from '../../../src/engine/infinitySessions';
import { INFINITY_TINY } from '../../../src/model/config';
import { scaleSchedule } from '../../../src/model/schedule';
import { makeTinyInfinityWeights } from '../../../src/model/tiny/infinityTiny';
import { gaussian } from '../../../src/model/weights';
import { createPolicy } from '../../../src/scalekv/policies';
import { planWindow, selectKeep } from '../../../src/scalekv/tokenSelection';
import type { ExecutionProvider, Precision, ScaleKVProfile } from '../../../src/shared/types';
import { tempDir, TINY, webgpuTest, withEnvAsync } from './helpers';

test('float16 conversion rounds to nearest even and round-trips every finite half', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up past the largest half: infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000], // underflow
    [1 + 2 ** -11, 0x3c00], // a tie: to the even mantissa
    [1 + 3 * 2 ** -11, 0x3c02],
    [-Infinity, 0xfc00],
  ];
  for (const [v, h] of cases) assert.equal(toHalfBits(v), h, `${v}`);
  assert.ok(Number.isNaN(halfBitsToFloat(toHalfBits(NaN))));
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN payloads
    assert.equal(toHalfBits(halfBitsToFloat(h)), h, `0x${h.toString(16)}`);
  }
});

async function runSelection(scores: Float32Array, B: number, H: number, W: number, N: number, sel: Parameters<typeof selectIndices>[2]) {
  const g = new Graph('select');
  const s = g.input('scores', 'float32', [B, H, W, N]);
  const cache = g.input('cache', 'float32', [B, H, N, 2]);
  const keep = selectIndices(g, { scores: s, B, H, N }, sel);
  g.outputAs(keep.local, 'keep', 'int32', [B, H, sel.capacity]);
  g.outputAs(gatherKept(g, cache, keep.flat, B, H, sel.capacity, 2), 'kept', 'float32', [B, H, sel.capacity, 2]);
  // TopK's indices are int64, and onnxruntime 1.30's WebGPU provider runs a Cast from int64 on the CPU:
  // one host round trip per selecting layer (measured on the H100, bench/gpu.md, third round)
  const nodes = g.nodeList();
  const topkIndices = new Set(nodes.filter((n) => n.op === 'TopK').map((n) => n.outputs[1]));
  assert.ok(topkIndices.size > 0 || sel.capacity === sel.windowKeys.length, 'the selection ranks with TopK');
  for (const n of nodes)
    if (n.op === 'Cast') assert.ok(!topkIndices.has(n.inputs[0]), `a Cast reads TopK's int64 indices (${n.inputs[0]})`);
  const session = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ['cpu'] });
  // every cache entry holds its own (row-head, index), so the gather can be checked exactly
  const cacheData = new Float32Array(B * H * N * 2);
  for (let rh = 0; rh < B * H; rh++) for (let j = 0; j < N; j++) cacheData.set([rh, j], (rh * N + j) * 2);
  const r = await session.run({
    scores: new ort.Tensor('float32', scores, [B, H, W, N]),
    cache: new ort.Tensor('float32', cacheData, [B, H, N, 2]),
  });
  await session.release();
  return { keep: r.keep.data as Int32Array, kept: r.kept.data as Float32Array };
}

test('in-graph selection keeps exactly what selectKeep keeps, per row and head, ties included', async () => {
  const B = 2;
  const H = 3;
  for (const [seed, tied] of [
    [1, false],
    [2, true],
    [3, true],
  ] as const) {
    const shape = { h: 16, w: 16 };
    const N = 600 + 256;
    const plan = planWindow({ scaleIndex: 6, shape, keyLen: N, windowSize: 16 });
    const W = plan.queries.length;
    const capacity = 200;
    // tied scores: a few integer levels, so max-pooling makes long runs of equal values
    const scores = Float32Array.from(gaussian(B * H * W * N, 1, seed), (v) => (tied ? Math.round(v) : v));
    const sel = {
      capacity,
      windowKeys: plan.keys,
      windowQueries: plan.queries,
      kernel: 5,
      pooling: 'maxpool' as const,
      queryMode: 'code' as const,
    };
    const { keep, kept } = await runSelection(scores, B, H, W, N, sel);
    for (let rh = 0; rh < B * H; rh++) {
      const want = selectKeep(scores.subarray(rh * W * N, (rh + 1) * W * N), plan, N, { capacity, kernel: 5, pooling: 'maxpool' })!;
      const got = keep.subarray(rh * capacity, (rh + 1) * capacity);
      assert.deepEqual([...got], [...want], `seed ${seed}, row-head ${rh}`);
      for (let j = 0; j < capacity; j++)
        assert.deepEqual([kept[(rh * capacity + j) * 2], kept[(rh * capacity + j) * 2 + 1]], [rh, want[j]]);
    }
  }
});

test('policies that decide on the host stay layer by layer; query chunks shrink as keys grow', () => {
  const schedule = scaleSchedule(1, '0.06M');
  const model = { depth: 8, numHeads: 4, headDim: 16, schedule };
  assert.equal(planScales(createPolicy({ name: 'h2o', ratio: 0.1 }, model), 8, schedule), null);
  assert.equal(planScales(createPolicy({ name: 'snapkv', ratio: 0.1, pooling: 'avgpool' }, model), 8, schedule), null);
  const snap = planScales(createPolicy({ name: 'snapkv', ratio: 0.1 }, model), 8, schedule)!;
  assert.equal(snap.length, schedule.length);
  assert.ok(
    snap.some((row) => row.some((s) => s !== null)),
    'SnapKV compresses some scale',
  );
  assert.equal(queryChunkFor(10521), 256);
  assert.equal(queryChunkFor(5000), 256);
  assert.equal(queryChunkFor(4746), 256);
  assert.ok(queryChunkFor(100) >= 4096);
});

interface TinyRun {
  logits: Float32Array[];
  positions: number[];
  runner: string;
  held: number;
}

/** ScaleKV 10% generations of the tiny model on the CPU at 256x256 (float32), one per variant, fixed bits of chance */
async function tinyScaleKV(
  variants: { runner: 'layerwise' | 'fused'; keyAlign?: number; queryChunk?: number; precision?: Precision }[],
  ep: ExecutionProvider = 'cpu',
): Promise<TinyRun[]> {
  const cfg = INFINITY_TINY;
  const ws = makeTinyInfinityWeights(cfg);
  const sessions = await InfinitySessions.create(cfg, ws, ep);
  const fused = fusedWeightCache(cfg, ws, ep);
  const resolution = '0.06M';
  const schedule = scaleSchedule(1, resolution);
  const profile = JSON.parse(readFileSync(join(TINY, `profile-${resolution}-10pct.json`), 'utf8')) as ScaleKVProfile;
  const model = {
    cfg,
    sessions,
    cfgUncond: ws.get('cfg_uncond'),
    encodeText: async () => ({ features: gaussian(2 * 5 * cfg.textChannels, 1, 42), lens: [5, 3], maxLen: 5 }),
    decode: async (z: Float32Array) => z,
    fused: (p: 'float16' | 'float32') => fused.get(p),
  };
  const out: TinyRun[] = [];
  try {
    for (const v of variants) {
      const logits: Float32Array[] = [];
      const policy = createPolicy({ name: 'scalekv', profile }, { depth: cfg.depth, numHeads: cfg.numHeads, headDim: 16, schedule });
      const r = await generateImages(model, {
        prompts: ['a', 'b'],
        seed: 3,
        aspectRatio: 1,
        resolution,
        cfg: 3,
        tau: 1,
        topK: 0,
        topP: 0,
        policy,
        queryMode: 'code',
        recordRetention: true,
        ...v,
        onLogits: (si, l) => (logits[si] = l.slice()),
      });
      const file = join(tempDir('fused'), 'retention.bin');
      const index = r.retention!.write(file, 'retention.bin');
      // every kept position of every layer, scale, row and head, and how each entry is laid out
      const positions = [
        ...index.entries.flatMap((e) => [e.scaleIndex, e.layer, e.offset, e.count]),
        ...new Int32Array(readFileSync(file).buffer.slice(0)),
      ];
      out.push({ logits, positions, runner: r.runner, held: r.kv.finalHeldBytes });
    }
  } finally {
    await fused.release();
    await sessions.release();
  }
  return out;
}

/** the largest |a - b| over every scale's logits, against tol x (1 + max |a|) per scale */
function assertLogitsClose(a: Float32Array[], b: Float32Array[], tol: number, what: string) {
  assert.equal(b.length, a.length);
  a.forEach((x, si) => {
    const y = b[si];
    let err = 0;
    let ref = 0;
    for (let i = 0; i < x.length; i++) {
      err = Math.max(err, Math.abs(x[i] - y[i]));
      ref = Math.max(ref, Math.abs(x[i]));
    }
    assert.ok(err <= tol * (1 + ref), `scale ${si}: max |${what}| = ${err}`);
  });
}

test('a ScaleKV generation fused and layer by layer keeps the same tokens and agrees in its logits (CPU, float32)', async () => {
  const [layerwise, fused] = await tinyScaleKV([{ runner: 'layerwise' }, { runner: 'fused', keyAlign: 0 }]);
  assert.equal(fused.runner, 'fused');
  assert.equal(layerwise.runner, 'layerwise');
  assert.ok(fused.positions.length > 1000, 'tokens were evicted and recorded');
  assert.deepEqual(fused.positions, layerwise.positions, 'the same kept tokens in every layer, scale, row and head');
  assert.equal(fused.held, layerwise.held);
  assertLogitsClose(layerwise.logits, fused.logits, 1e-4, 'fused - layerwise');
});

test('attention over keys padded to a multiple of 4 or 16 changes no kept token and no logit beyond float32 rounding', async () => {
  // the padding WebGPU's vec4 MatMul needs (scaleStep's keyAlign): padded keys must get no weight at all.
  // Small query chunks put several chunks against the padded keys.
  const [plain, by4, by16] = await tinyScaleKV([
    { runner: 'fused', keyAlign: 0, queryChunk: 48 },
    { runner: 'fused', keyAlign: 4, queryChunk: 48 },
    { runner: 'fused', keyAlign: 16, queryChunk: 48 },
  ]);
  // the padding is there: every key count of the last scale is rounded up, each through its own Expand'ed tail
  const schedule = scaleSchedule(1, '0.06M');
  const last = schedule.length - 1;
  const plan = (keyAlign: number): ScaleStepPlan => ({
    rows: 2,
    scaleIndex: last,
    ...schedule[last],
    first: false,
    last: true,
    ropeCos: new Float32Array(schedule[last].h * schedule[last].w * 8),
    ropeSin: new Float32Array(schedule[last].h * schedule[last].w * 8),
    layers: Array.from({ length: INFINITY_TINY.depth }, () => ({ pastLen: 265, select: null })),
    precision: 'float32',
    queryChunk: 0,
    keyAlign,
  });
  const expands = (keyAlign: number) =>
    scaleStepGraph(INFINITY_TINY, plan(keyAlign))
      .nodeList()
      .filter((n) => n.op === 'Expand').length;
  assert.equal(expands(0), 0);
  assert.equal(expands(4), 3, '521 keys -> 524: one query tail, one row tail, one channel tail shared by the layers');
  for (const [r, name] of [
    [by4, 'by 4'],
    [by16, 'by 16'],
  ] as const) {
    assert.deepEqual(r.positions, plain.positions, `${name}: the same kept tokens`);
    assertLogitsClose(plain.logits, r.logits, 1e-5, `padded ${name} - unpadded`);
  }
});

webgpuTest('ScaleKV on WebGPU (float32): the in-graph selection keeps the same tokens as on the CPU, logits within 1e-4', async () => {
  // TopK, GatherElements, MaxPool and the rest of the selection through the provider's own kernels, the
  // keys padded for its vec4 MatMul (the default there), and the caches handed between scales as device buffers
  const [cpu] = await tinyScaleKV([{ runner: 'fused', keyAlign: 0 }]);
  const [gpu] = await tinyScaleKV([{ runner: 'fused', precision: 'fp32' }], 'webgpu');
  assert.equal(gpu.runner, 'fused');
  assert.ok(cpu.positions.length > 1000, 'tokens were evicted and recorded');
  assert.deepEqual(gpu.positions, cpu.positions, 'the same kept tokens in every layer, scale, row and head');
  assert.equal(gpu.held, cpu.held);
  assertLogitsClose(cpu.logits, gpu.logits, 1e-4, 'webgpu - cpu');
});

webgpuTest(
  'layer by layer on WebGPU (float32): the same tokens and logits as on the CPU; each block lets go of its outputs after evicting',
  async () => {
    // the layer-by-layer path (policies that decide on the host, calibration) with the device gather, and
    // the block sessions' IoBindings released after each eviction, or kept (SCALEKV_KEEP_OUTPUTS=1)
    const released: number[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the instance as this
    const original = InfinitySessions.prototype.releaseBlockOutputs;
    InfinitySessions.prototype.releaseBlockOutputs = async function (this: InfinitySessions, i: number) {
      const n = await original.call(this, i);
      released.push(n);
      return n;
    };
    try {
      const [cpu] = await tinyScaleKV([{ runner: 'layerwise' }]);
      assert.deepEqual(
        released.filter((n) => n > 0),
        [],
        'nothing to let go of on the CPU',
      );
      released.length = 0;
      const [gpu] = await tinyScaleKV([{ runner: 'layerwise' }], 'webgpu');
      assert.ok(released.length > 10 && released.every((n) => n === 1), `every eviction let its block's session go: ${released.join(',')}`);
      const kept = await withEnvAsync('SCALEKV_KEEP_OUTPUTS', '1', () => tinyScaleKV([{ runner: 'layerwise' }], 'webgpu'));
      assert.equal(gpu.runner, 'layerwise');
      assert.deepEqual(gpu.positions, cpu.positions, 'the same kept tokens in every layer, scale, row and head');
      assertLogitsClose(cpu.logits, gpu.logits, 1e-4, 'webgpu - cpu');
      assert.deepEqual(kept[0].positions, gpu.positions);
      assertLogitsClose(kept[0].logits, gpu.logits, 0, 'released - kept');
    } finally {
      InfinitySessions.prototype.releaseBlockOutputs = original;
    }
  },
);
