/**
 * Budget allocation from a target memory ratio.
 *
 * What the ratio bounds: the PEAK of the KV cache held between scales, summed over layers (tokens per
 * batch row and head; bytes are proportional). The reference is the largest full cache any scale
 * reads from history, i.e. the full cache after the second-to-last scale, F = depth x cum[n-2].
 * A ratio r gives T = floor(r x F) tokens, and after every compressed scale the layers together hold
 * at most T. The shipped official tables follow exactly this rule: 650 tokens x depth after every
 * compressed scale, 650 / 6425 = 10.1% of F for Infinity-2B and -8B at 1024x1024.
 * The sum over scales of what is held (a time integral of memory) is reported next to it, not bounded.
 *
 * How T is split at each compressed scale (roles come from calibration; only their count matters):
 *  - refiners: the initial refiner budget (600 in the paper, at 650 tokens per layer; scaled by
 *    T/depth / 650 for other ratios) decayed geometrically per compressed
 *    scale, raised to what drafters leave unused when they can hold every token, never above the
 *    per-layer average T/depth (so drafters always get at least as much), never above the tokens
 *    that exist, and non-increasing from scale to scale;
 *  - drafters: what the refiners leave, split evenly, capped at the tokens that exist;
 *  - uniform (baselines without the split): T/depth per layer.
 * Compression starts at the first scale whose full cache exceeds both T/depth (the official base
 * capacity plays this role: 650 = T/depth) and the never-compressed early tokens (121 = the first
 * five 1:1 scales). Until then every cache is whole, so the held cache there is depth x cum[si],
 * at most depth x uncompressedTokens beyond T when the ratio is very small.
 */
import { ScaleKVError } from '../shared/errors';
import type { ScaleShape } from '../shared/types';
import { cumulativeTokens } from '../model/schedule';

export interface BudgetSettings {
  targetRatio: number;
  windowSize: number;
  uncompressedTokens: number;
  draftersPerScale: number;
  refinerInitialBudget: number;
  refinerDecay: number;
}

export interface ScaleBudget {
  scaleIndex: number;
  compressed: boolean;
  drafterBudget: number;
  refinerBudget: number;
  /** for policies without drafters/refiners */
  uniformBudget: number;
}

export interface BudgetPlan {
  /** T: tokens (per row and head, summed over layers) held at most after any compressed scale */
  memoryTokens: number;
  /** F: the full cache the last scale reads from history (depth x cum[n-2]) */
  fullTokensAtLastAttention: number;
  /** T / depth: caches up to this length are never compressed (the official base capacity) */
  baseCapacity: number;
  draftersPerScale: number;
  scales: ScaleBudget[];
  /** upper bound of the held cache after each scale, summed over layers, for the drafter/refiner split */
  heldBound: number[];
  /** the full cache after each scale, summed over layers */
  fullTokens: number[];
}

/**
 * The paper's initial refiner budget (600) goes with its 10% setting, 650 tokens per layer; other
 * ratios scale it by their own per-layer average so refiners stay below drafters at every ratio.
 */
const PAPER_LAYER_AVERAGE = 650;

const bad = (m: string): never => {
  throw new ScaleKVError('E_BUDGET_INVALID', m);
};

function checkSettings(s: BudgetSettings, depth: number): void {
  if (!(s.targetRatio > 0 && s.targetRatio <= 1)) bad(`The target ratio must be within (0, 1], got ${s.targetRatio}.`);
  if (!Number.isInteger(s.windowSize) || s.windowSize <= 0) bad(`The observation window must be a positive integer, got ${s.windowSize}.`);
  if (!Number.isInteger(s.draftersPerScale) || s.draftersPerScale < 0 || s.draftersPerScale > depth)
    bad(`Drafters per scale must be an integer from 0 to the model's ${depth} layers, got ${s.draftersPerScale}.`);
  if (!(s.refinerDecay > 0 && s.refinerDecay <= 1)) bad(`The refiner decay rate must be within (0, 1], got ${s.refinerDecay}.`);
  if (!(s.refinerInitialBudget >= s.windowSize))
    bad(`The initial refiner budget (${s.refinerInitialBudget}) must hold at least the ${s.windowSize}-token observation window.`);
  if (!(s.uncompressedTokens >= 0)) bad(`Uncompressed tokens must be zero or more, got ${s.uncompressedTokens}.`);
}

export function allocateBudgets(schedule: ScaleShape[], depth: number, s: BudgetSettings): BudgetPlan {
  checkSettings(s, depth);
  if (schedule.length < 2) bad('A schedule of at least two scales is needed for compression.');
  const cum = cumulativeTokens(schedule);
  const F = depth * cum[cum.length - 2];
  const T = Math.floor(s.targetRatio * F);
  const W = s.windowSize;
  const avg = Math.floor(T / depth);
  if (avg < W) {
    const min = (depth * W) / F;
    bad(
      `A ${(s.targetRatio * 100).toFixed(2)}% budget is ${T} tokens over ${depth} layers (${avg} per layer), less than the ${W}-token observation window every layer must keep. Use a ratio of at least ${(Math.ceil(min * 10000) / 10000).toFixed(4)}.`,
    );
  }
  const nd = s.draftersPerScale;
  const nr = depth - nd;
  const threshold = Math.max(s.uncompressedTokens, avg);
  let k = 0;
  let prevRefiner = Infinity;
  const scales: ScaleBudget[] = schedule.map((_, si) => {
    const compressed = cum[si] > threshold;
    if (!compressed) return { scaleIndex: si, compressed, drafterBudget: cum[si], refinerBudget: cum[si], uniformBudget: cum[si] };
    const decayed = Math.round(s.refinerInitialBudget * (avg / PAPER_LAYER_AVERAGE) * Math.pow(s.refinerDecay, k++));
    // once drafters can hold every token, what they cannot use goes to the refiners
    const leftover = nr > 0 ? Math.floor((T - nd * cum[si]) / nr) : 0;
    const r = Math.max(W, Math.min(Math.max(decayed, leftover), avg, cum[si], prevRefiner));
    prevRefiner = r;
    const d = nd > 0 ? Math.min(cum[si], Math.floor((T - nr * r) / nd)) : r;
    return { scaleIndex: si, compressed, drafterBudget: Math.max(d, r), refinerBudget: r, uniformBudget: Math.min(cum[si], avg) };
  });
  const heldBound = scales.map((b, si) => (b.compressed ? nd * b.drafterBudget + nr * b.refinerBudget : depth * cum[si]));
  return {
    memoryTokens: T,
    fullTokensAtLastAttention: F,
    baseCapacity: avg,
    draftersPerScale: nd,
    scales,
    heldBound,
    fullTokens: cum.map((c) => depth * c),
  };
}

/** Budget of a layer at a scale, null where the scale is not compressed. */
export type LayerBudget = (layer: number, scaleIndex: number) => number | null;

/** Each layer's cache length after each scale ([scale][layer]) when caches are cut to their budgets. */
export function cacheLengths(schedule: ScaleShape[], depth: number, budget: LayerBudget): number[][] {
  const len = new Array<number>(depth).fill(0);
  return schedule.map((s, si) => {
    for (let l = 0; l < depth; l++) {
      const k = len[l] + s.h * s.w;
      const cap = budget(l, si);
      len[l] = cap === null ? k : Math.min(k, cap);
    }
    return [...len];
  });
}

export interface MemorySummary {
  /** held after each scale, summed over layers */
  held: number[];
  full: number[];
  /** the largest held after any scale, and the same for the full cache read by the last scale */
  peakHeld: number;
  peakReference: number;
  peakRatio: number;
  /** held summed over layers and scales, against the full cache summed the same way */
  summedHeld: number;
  summedFull: number;
  summedRatio: number;
}

/**
 * Both memory measures for per-layer cache lengths. Tokens are per batch row and head; multiply by
 * kvBytesPerToken for bytes.
 */
export function summarizeMemory(schedule: ScaleShape[], lengths: number[][]): MemorySummary {
  const depth = lengths[0]?.length ?? 0;
  const cum = cumulativeTokens(schedule);
  const held = lengths.map((ls) => ls.reduce((a, b) => a + b, 0));
  const full = cum.map((c) => depth * c);
  const peakHeld = Math.max(...held);
  const peakReference = depth * cum[Math.max(0, cum.length - 2)];
  const summedHeld = held.reduce((a, b) => a + b, 0);
  const summedFull = full.reduce((a, b) => a + b, 0);
  return {
    held,
    full,
    peakHeld,
    peakReference,
    peakRatio: peakHeld / peakReference,
    summedHeld,
    summedFull,
    summedRatio: summedHeld / summedFull,
  };
}

/** Bytes of one cached token in one layer: K and V for every row and head. */
export function kvBytesPerToken(o: { rows: number; numHeads: number; headDim: number; bytesPerElement: number }): number {
  return 2 * o.rows * o.numHeads * o.headDim * o.bytesPerElement;
}
