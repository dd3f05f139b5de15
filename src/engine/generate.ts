/**
 * The generation loop: Infinity's next-scale prediction with a per-layer KV cache that a policy may
 * compress after every scale. Records per-scale timings, the KV bytes each layer holds, the sampled
 * bits, and (optionally) the token positions every layer keeps.
 */
import type { StepPrecision } from '../../kernels/graphs/stepWeights';
import { fullCacheBytes } from '../kvcache/kvCache';
import type { KvPolicy } from '../kvcache/policy';
import { RetentionRecorder } from '../kvcache/retention';
import type { InfinityConfig } from '../model/config';
import { cumulativeTokens, scaleSchedule } from '../model/schedule';
import { interpolateBilinear } from '../model/vae';
import { cancelled, ScaleKVError } from '../shared/errors';
import type {
  ExecutionProvider,
  KvReport,
  KvScaleStat,
  Precision,
  Progress,
  ScaleShape,
  ScaleTiming,
  WindowQueryMode,
} from '../shared/types';
import { planScales, fusedRunner, type FusedModel } from './fusedRunner';
import type { InfinitySessions } from './infinitySessions';
import { layerwiseRunner, type ConditioningTensors, type ScaleRunner } from './scaleRunner';
import { ropeForScale } from './rope';
import { Rng, sampleBits } from './sampling';

export interface TextFeatures {
  /** [B, maxLen, Ct5], zero padded */
  features: Float32Array;
  lens: number[];
  maxLen: number;
}

export interface GenerationModel {
  cfg: InfinityConfig;
  sessions: InfinitySessions;
  /** learned unconditional text features [textMaxLen, Ct5] */
  cfgUncond: Float32Array;
  encodeText(prompts: string[]): Promise<TextFeatures>;
  /** z [B, d, h, w] -> image [B, 3, 16h, 16w] */
  decode(z: Float32Array, B: number, h: number, w: number): Promise<Float32Array>;
  /** the per-scale fused graphs' weights on the device, uploaded on first use per precision */
  fused?(precision: StepPrecision, signal?: AbortSignal): Promise<FusedModel>;
  /** lets the fused graphs' device weights go until the next fused run uploads them again */
  releaseFused?(): Promise<void>;
}

export interface GenerationOptions {
  prompts: string[];
  seed: number;
  aspectRatio: number;
  resolution: string;
  cfg: number;
  tau: number;
  topK: number;
  topP: number;
  policy: KvPolicy;
  queryMode: WindowQueryMode;
  recordRetention: boolean;
  /** 'auto' (default): float16 on GPU providers, float32 on the CPU */
  precision?: Precision;
  /** 'auto' (default): fused per-scale graphs where the policy allows, else layer by layer */
  runner?: 'auto' | 'fused' | 'layerwise';
  /** queries per attention chunk in the fused graphs */
  queryChunk?: number;
  /** keys per attention padded to a multiple of this in the fused graphs (default: per provider) */
  keyAlign?: number;
  /** calibration needs the attention statistics only: skip the VAE */
  skipDecode?: boolean;
  /** test hook: use these bits instead of sampling (teacher forcing), [scale] -> [B, L, d] */
  forcedBits?: Uint8Array[];
  /** test hook: the head's logits of every scale for all rows [rows, L, 2d] (before guidance) */
  onLogits?(scaleIndex: number, logits: Float32Array): void;
  /** test hook: the BSQ codes fed to scale si > 0, [rows, L, d] */
  onScaleCodes?(scaleIndex: number, codes: Float32Array): void;
  signal?: AbortSignal;
  onProgress?(p: Progress): void;
}

export interface GenerationResult {
  schedule: ScaleShape[];
  /** [B, 3, H, W] in [-1, 1] */
  images: Float32Array;
  width: number;
  height: number;
  bits: Uint8Array[];
  timings: ScaleTiming[];
  kv: KvReport;
  retention: RetentionRecorder | null;
  runner: 'fused' | 'layerwise';
  precision: 'fp16' | 'fp32';
}

const BF16 = 2;

export async function generateImages(model: GenerationModel, o: GenerationOptions): Promise<GenerationResult> {
  const { cfg, sessions } = model;
  const schedule = scaleSchedule(o.aspectRatio, o.resolution);
  const finalGrid = scaleSchedule(o.aspectRatio, '1M').at(-1)!;
  const B = o.prompts.length;
  if (B === 0) throw new ScaleKVError('E_INVALID_REQUEST', 'At least one prompt is needed.');
  const guided = o.cfg !== 1;
  const rows = guided ? 2 * B : B;
  const H = cfg.numHeads;
  const hd = cfg.embedDim / cfg.numHeads;
  const d = cfg.codebookDim;
  const check = () => {
    if (o.signal?.aborted) throw cancelled();
  };
  const total = schedule.length;
  const progress = (p: Omit<Progress, 'fraction'> & { fraction?: number }) => o.onProgress?.({ fraction: 0, ...p });

  // ---- text conditioning (conditional rows first, then the learned unconditional embedding)
  progress({ stage: 'encode', message: 'Encoding prompts' });
  const text = await model.encodeText(o.prompts);
  const T = Math.max(1, text.maxLen);
  const Ct5 = cfg.textChannels;
  const feats = new Float32Array(rows * T * Ct5);
  const mask = new Float32Array(rows * T);
  for (let b = 0; b < B; b++) {
    const len = Math.min(text.lens[b], T);
    feats.set(text.features.subarray(b * text.maxLen * Ct5, (b * text.maxLen + len) * Ct5), b * T * Ct5);
    mask.fill(1, b * T, b * T + len);
    if (guided) {
      const u = Math.min(len, cfg.textMaxLen);
      feats.set(model.cfgUncond.subarray(0, u * Ct5), (B + b) * T * Ct5);
      mask.fill(1, (B + b) * T, (B + b) * T + u);
    }
  }
  check();
  const cond = await sessions.runConditioning(feats, mask, rows, T);

  const retention = o.recordRetention ? new RetentionRecorder(rows, H, cfg.depth) : null;
  const rng = new Rng(o.seed);
  o.policy.reset();
  const runner = await chooseRunner(model, cond, o, rows, retention, schedule, finalGrid);

  const last = schedule[total - 1];
  const summed = new Float32Array(B * d * last.h * last.w);
  const cum = cumulativeTokens(schedule);
  const timings: ScaleTiming[] = [];
  const perScale: KvScaleStat[] = [];
  const bitsPerScale: Uint8Array[] = [];
  let codes: Float32Array | null = null;
  let peak = 0;
  const bpe = runner.bytesPerElement;

  try {
    for (let si = 0; si < total; si++) {
      const t0 = performance.now();
      const shape = schedule[si];
      const L = shape.h * shape.w;
      const where = `Scale ${si + 1}/${total} (${shape.h}x${shape.w})`;
      const { logits, peakBytes } = await runner.run({
        si,
        schedule,
        firstPos: si === 0 ? 0 : cum[si - 1],
        rope: ropeForScale(shape, finalGrid, hd, cfg.ropeBase),
        codes,
        check,
        // reported as the work starts, so the message names what is running
        onLayer: (l, fused) =>
          progress({
            stage: 'scale',
            scaleIndex: si,
            message: fused ? `${where}, all ${cfg.depth} layers` : `${where}, layer ${l + 1}/${cfg.depth}`,
            fraction: (si + l / cfg.depth) / total,
          }),
      });
      peak = Math.max(peak, peakBytes);

      // ---- guidance, bits
      const V = 2 * d;
      const guidedLogits = guided ? logits : logits.subarray(0, B * L * V);
      o.onLogits?.(si, logits);
      const bits = o.forcedBits?.[si] ?? sampleBits(guidedLogits, B, L, d, { cfg: o.cfg, tau: o.tau, topK: o.topK, topP: o.topP }, rng);
      bitsPerScale.push(bits);

      // ---- BSQ codes: bits -> +-1/sqrt(d), accumulated at the final size; next input resampled from the sum
      const inv = 1 / Math.sqrt(d);
      const scaleCodes = new Float32Array(B * d * L); // [B, d, h, w]
      for (let b = 0; b < B; b++)
        for (let t = 0; t < L; t++) for (let j = 0; j < d; j++) scaleCodes[(b * d + j) * L + t] = bits[(b * L + t) * d + j] ? inv : -inv;
      if (si === total - 1) {
        for (let i = 0; i < summed.length; i++) summed[i] += scaleCodes[i];
      } else {
        for (let b = 0; b < B; b++) {
          const up = interpolateBilinear(scaleCodes.subarray(b * d * L, (b + 1) * d * L), d, shape.h, shape.w, last.h, last.w);
          const o2 = b * d * last.h * last.w;
          for (let i = 0; i < up.length; i++) summed[o2 + i] += up[i];
        }
        const nxt = schedule[si + 1];
        const Ln = nxt.h * nxt.w;
        const next = new Float32Array(rows * Ln * d); // [rows, L, d]
        for (let b = 0; b < B; b++) {
          const down = interpolateBilinear(
            summed.subarray(b * d * last.h * last.w, (b + 1) * d * last.h * last.w),
            d,
            last.h,
            last.w,
            nxt.h,
            nxt.w,
          );
          for (let t = 0; t < Ln; t++) for (let j = 0; j < d; j++) next[(b * Ln + t) * d + j] = down[j * Ln + t];
        }
        if (guided) next.copyWithin(B * Ln * d, 0, B * Ln * d);
        o.onScaleCodes?.(si + 1, next);
        codes = next;
      }

      const held = runner.caches.map((c) => c.bytes(bpe));
      perScale.push({
        scaleIndex: si,
        heldBytes: held.reduce((a, b) => a + b, 0),
        fullBytes: fullCacheBytes(cfg.depth, rows, H, hd, cum[si], bpe),
        perLayerHeld: held,
        perLayerTokens: runner.caches.map((c) => c.len),
        peakBytes,
      });
      timings.push({ scaleIndex: si, ms: performance.now() - t0 });
    }
  } finally {
    runner.dispose();
  }

  check();
  progress({ stage: 'decode', message: 'Decoding image', fraction: 0.99 });
  const images = o.skipDecode ? new Float32Array(0) : await model.decode(summed, B, last.h, last.w);
  const fullPeak = fullCacheBytes(cfg.depth, rows, H, hd, cum[total - 1], bpe);
  const kv: KvReport = {
    bytesPerElement: bpe,
    referenceBytesPerElement: BF16,
    batchRows: rows,
    perScale,
    peakBytes: peak,
    fullPeakBytes: fullPeak,
    finalHeldBytes: perScale[total - 1].heldBytes,
    finalFullBytes: perScale[total - 1].fullBytes,
  };
  return {
    schedule,
    images,
    width: last.w * 16,
    height: last.h * 16,
    bits: bitsPerScale,
    timings,
    kv,
    retention,
    runner: runner.kind,
    precision: bpe === 2 ? 'fp16' : 'fp32',
  };
}

/** float16 wherever a GPU provider runs the model, float32 on the CPU (its kernels are float32). */
export function resolvePrecision(p: Precision | undefined, ep: ExecutionProvider): StepPrecision {
  const want = p ?? 'auto';
  if (want === 'fp32') return 'float32';
  if (want === 'fp16') {
    if (ep === 'cpu')
      throw new ScaleKVError(
        'E_INVALID_REQUEST',
        'float16 runs on a GPU provider (webgpu or cuda); the CPU provider runs float32. Use precision auto or fp32.',
      );
    return 'float16';
  }
  return ep === 'cpu' ? 'float32' : 'float16';
}

async function chooseRunner(
  model: GenerationModel,
  cond: ConditioningTensors,
  o: GenerationOptions,
  rows: number,
  retention: RetentionRecorder | null,
  schedule: ScaleShape[],
  finalGrid: ScaleShape,
): Promise<ScaleRunner> {
  const precision = resolvePrecision(o.precision, model.sessions.ep);
  const plans = o.runner === 'layerwise' || !model.fused ? null : planScales(o.policy, model.cfg.depth, schedule);
  if (plans) {
    return fusedRunner(await model.fused!(precision, o.signal), cond, {
      rows,
      plans,
      retention,
      queryChunk: o.queryChunk,
      keyAlign: o.keyAlign,
      finalGrid,
    });
  }
  if (o.runner === 'fused')
    throw new ScaleKVError(
      'E_INVALID_REQUEST',
      `The ${o.policy.name} policy decides on the host after every layer, so it runs layer by layer.`,
    );
  if (precision === 'float16') {
    // the layer-by-layer graphs are float32; say so rather than report a precision that did not run
    o.onProgress?.({ stage: 'encode', fraction: 0, message: `${o.policy.name} runs layer by layer in float32` });
  }
  return layerwiseRunner(model.sessions, cond, { rows, policy: o.policy, queryMode: o.queryMode, retention });
}
