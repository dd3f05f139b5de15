/**
 * The engine's ONNX graphs against the float64 reference written from the PyTorch model's math, on the
 * tiny config with fixed weights, two prompts of different lengths, CFG 3 and teacher-forced bits: the
 * logits of every scale must agree.
 * - onnxruntime's CPU provider, float32: within 1e-4 x (1 + max|ref|), ample for float32 accumulation over
 *   8 blocks (observed errors are ~1e-6; a wrong operation gives O(1)).
 * - The WebGPU provider's own kernels, on Mesa's software Vulkan driver (lavapipe; test/setup.mjs
 *   installs it), through the fused graphs with the keys padded for its vec4 MatMul: float32 within the
 *   same 1e-4, float16 within 2e-2 x (1 + max|ref|) (float16 keeps 11 significant bits and the provider
 *   accumulates its products in float16; observed errors are stated in the test output).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPrefixes } from '../../../kernels/graphs/infinityNames';
import { INFINITY_TINY } from '../../../src/model/config';
import { scaleSchedule } from '../../../src/model/schedule';
import { makeTinyInfinityWeights } from '../../../src/model/tiny/infinityTiny';
import { gaussian } from '../../../src/model/weights';
import { generateImages } from '../../../src/engine/generate';
import { fusedWeightCache } from '../../../src/engine/fusedRunner';
import { InfinitySessions } from '../../../src/engine/infinitySessions';
import type { KvPolicy } from '../../../src/kvcache/policy';
import type { ExecutionProvider, Precision } from '../../../src/shared/types';
import { referenceLogits } from '../../reference/infinityRef';
import { webgpuTest } from './helpers';

const keepAll: KvPolicy = {
  name: 'full',
  reset() {},
  needs: () => ({ windowQueries: null, queryMode: 'code', colsum: false }),
  select: () => null,
  staticSelection: () => null,
};

interface Where {
  ep: ExecutionProvider;
  precision: Precision;
  keyAlign?: number;
  /** of (1 + max|ref|), per scale */
  tolerance: number;
}
const CPU: Where = { ep: 'cpu', precision: 'auto', tolerance: 1e-4 };

async function check(aspect: number, resolution: string, runner: 'layerwise' | 'fused' = 'layerwise', where: Where = CPU) {
  const cfg = INFINITY_TINY;
  const ws = makeTinyInfinityWeights(cfg);
  const sessions = await InfinitySessions.create(cfg, ws, where.ep);
  const fused = fusedWeightCache(cfg, ws, where.ep);
  const schedule = scaleSchedule(aspect, resolution);
  const B = 2;
  const lens = [5, 3];
  const T = 5;
  const Ct5 = cfg.textChannels;
  const features = gaussian(B * T * Ct5, 1, 42);
  features.fill(0, (T + 3) * Ct5, 2 * T * Ct5); // padding of the shorter prompt
  const bits = schedule.map((s, si) => Uint8Array.from(gaussian(B * s.h * s.w * cfg.codebookDim, 1, 100 + si), (v) => (v > 0 ? 1 : 0)));
  const engineLogits: Float32Array[] = [];
  await generateImages(
    {
      cfg,
      sessions,
      cfgUncond: ws.get('cfg_uncond'),
      encodeText: async () => ({ features, lens, maxLen: T }),
      decode: async (z) => z,
      fused: (p) => fused.get(p),
    },
    {
      prompts: ['a', 'b'],
      seed: 0,
      aspectRatio: aspect,
      resolution,
      cfg: 3,
      tau: 1,
      topK: 0,
      topP: 0,
      policy: keepAll,
      queryMode: 'code',
      recordRetention: false,
      forcedBits: bits,
      runner,
      precision: where.precision,
      keyAlign: where.keyAlign,
      onLogits: (si, l) => (engineLogits[si] = l.slice()),
    },
  );
  await fused.release();
  await sessions.release();
  // the reference gets the documented inputs: conditional rows, then cfg_uncond[:len] rows
  const rows = 2 * B;
  const text = new Float32Array(rows * T * Ct5);
  const mask = new Float32Array(rows * T);
  const unc = ws.get('cfg_uncond');
  for (let b = 0; b < B; b++) {
    text.set(features.subarray(b * T * Ct5, (b * T + lens[b]) * Ct5), b * T * Ct5);
    text.set(unc.subarray(0, lens[b] * Ct5), (B + b) * T * Ct5);
    mask.fill(1, b * T, b * T + lens[b]);
    mask.fill(1, (B + b) * T, (B + b) * T + lens[b]);
  }
  const ref = referenceLogits(cfg, ws, blockPrefixes(ws, cfg.depth), {
    text,
    mask,
    rows,
    T,
    B,
    schedule,
    finalGrid: scaleSchedule(aspect, '1M').at(-1)!,
    cfg: 3,
    tau: 1,
    bits,
  });
  const report: string[] = [];
  schedule.forEach((_, si) => {
    const a = engineLogits[si];
    const r = ref.logits[si];
    assert.equal(a.length, r.length, `scale ${si}: logits size`);
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < r.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(a[i] - r[i]));
      maxRef = Math.max(maxRef, Math.abs(r[i]));
    }
    report.push(`${si}:${maxErr.toExponential(1)}`);
    assert.ok(maxErr <= where.tolerance * (1 + maxRef), `scale ${si}: max |engine - float64| = ${maxErr} (max |ref| ${maxRef})`);
  });
  const on = where.ep === 'cpu' ? '' : ` ${where.ep} ${where.precision} keys padded to ${where.keyAlign ?? 'default'}`;
  console.log(`# ${runner}${on} ${resolution} h/w=${aspect.toFixed(3)} max abs error per scale: ${report.join(' ')}`);
}

test('logits of every scale match the float64 reference (1:1, 7 scales)', () => check(1, '0.06M'));
test('logits of every scale match the float64 reference (non-square 3:4 template, 7 scales)', () => check(1.333, '0.06M'));
test('the fused per-scale graphs (float32, CPU) match the float64 reference at every scale (1:1)', () => check(1, '0.06M', 'fused'));
test('the fused per-scale graphs (float32, CPU) match the float64 reference at every scale (3:4)', () => check(1.333, '0.06M', 'fused'));

webgpuTest('WebGPU, float32, keys padded to 4: the fused graphs match the float64 reference at every scale (1:1 and 3:4)', async () => {
  await check(1, '0.06M', 'fused', { ep: 'webgpu', precision: 'fp32', keyAlign: 4, tolerance: 1e-4 });
  await check(1.333, '0.06M', 'fused', { ep: 'webgpu', precision: 'fp32', keyAlign: 4, tolerance: 1e-4 });
});
webgpuTest('WebGPU, float16, keys padded to 4 and not padded: the fused graphs match the float64 reference at every scale', async () => {
  await check(1, '0.06M', 'fused', { ep: 'webgpu', precision: 'fp16', keyAlign: 4, tolerance: 2e-2 });
  await check(1, '0.06M', 'fused', { ep: 'webgpu', precision: 'fp16', keyAlign: 0, tolerance: 2e-2 });
});
