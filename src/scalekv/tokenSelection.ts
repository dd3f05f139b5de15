/**
 * ScaleKV's per-(row, head) token selection, following StargazerX0/ScaleKV's update_kv branch by
 * branch so that kept indices match the official code on the same scores.
 *
 * Indices are positions in the layer's current cache (earlier kept entries first, then the current
 * scale's keys), which is what the official code calls "global" indices.
 *
 * Deterministic tie-breaking: among keys with exactly equal pooled scores the lower cache index is
 * kept first. torch.topk leaves the order of exact ties unspecified, so on such ties the official
 * code may keep a different (equally scored) member; nothing else may differ.
 */
import { ScaleKVError } from '../shared/errors';
import type { ScaleShape } from '../shared/types';

/**
 * The official code does not read the map size from the schedule: it looks the current scale's
 * token count up in this table (Infinity's 1:1 schedule) by scale index, and treats the last that
 * many cache entries as a square map.
 */
const OFFICIAL_SCALE_SIZES: readonly number[] = [1, 4, 16, 36, 64, 144, 256, 400, 576, 1024, 1600, 2304, 4096];

/**
 * 'official': the official code's window, including its assumption that every map is the square of
 *             OFFICIAL_SCALE_SIZES[scaleIndex] (identical to 'grid' on 1:1 schedules).
 * 'grid':     patch centres of the real h x w map, so non-square schedules get a proper grid.
 */
export type WindowLayout = 'official' | 'grid';

export interface WindowPlan {
  /** cache indices of the window's keys: ascending and unique */
  keys: Int32Array;
  /**
   * rows within the current scale's queries (0..h*w-1) that score the cache, aligned with keys.
   * The fallbacks clamp them into the current scale, so they may repeat.
   */
  queries: Int32Array;
  /** which branch produced the window (for diagnostics and tests) */
  kind: 'grid' | 'recent';
}

export interface WindowArgs {
  scaleIndex: number;
  /** the current scale's real token map */
  shape: ScaleShape;
  /** cache length with the current scale's keys appended */
  keyLen: number;
  windowSize: number;
  layout?: WindowLayout;
}

const isSquare = (n: number): boolean => n >= 0 && Number.isInteger(Math.sqrt(n));
const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/** The last min(W, keyLen) cache entries; used when no grid can be placed. */
function recentWindow(keyLen: number, windowSize: number, queryOffset: number, queryCount: number): WindowPlan {
  const n = Math.min(windowSize, keyLen);
  const keys = new Int32Array(n);
  const queries = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = keyLen - n + i;
    queries[i] = clamp(keys[i] - queryOffset, 0, queryCount - 1);
  }
  return { keys, queries, kind: 'recent' };
}

/** g x g patch centres over an mh x mw map whose first token sits at cache index `start`. */
function gridWindow(
  mh: number,
  mw: number,
  g: number,
  start: number,
  keyLen: number,
  windowSize: number,
  queryOffset: number,
  queryCount: number,
): WindowPlan {
  const hp = Math.floor(mh / g);
  const wp = Math.floor(mw / g);
  const set = new Set<number>();
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < g; j++) {
      const hc = clamp(i * hp + Math.floor((hp - 1) / 2), 0, mh - 1);
      const wc = clamp(j * wp + Math.floor((wp - 1) / 2), 0, mw - 1);
      set.add(clamp(hc * mw + wc + start, 0, keyLen - 1));
    }
  }
  const keys = Int32Array.from([...set].sort((a, b) => a - b).slice(0, windowSize));
  const queries = keys.map((k) => clamp(k - queryOffset, 0, queryCount - 1));
  return { keys, queries, kind: 'grid' };
}

/**
 * The observation window for one layer at one scale (the same for every row and head). The engine
 * needs `queries` before it runs the layer, to score the cache with those queries only.
 */
export function planWindow(a: WindowArgs): WindowPlan {
  const { shape, keyLen, windowSize } = a;
  const layout = a.layout ?? 'official';
  if (!Number.isInteger(windowSize) || windowSize <= 0)
    throw new ScaleKVError('E_BUDGET_INVALID', `The observation window must be a positive integer, got ${windowSize}.`);
  const queryCount = shape.h * shape.w;
  // the current scale's queries are the last queryCount cache entries
  const queryOffset = keyLen - queryCount;
  const g = Math.sqrt(windowSize);
  if (layout === 'grid') {
    if (!Number.isInteger(g) || shape.h < g || shape.w < g) return recentWindow(keyLen, windowSize, queryOffset, queryCount);
    return gridWindow(shape.h, shape.w, g, keyLen - queryCount, keyLen, windowSize, queryOffset, queryCount);
  }
  const si = clamp(a.scaleIndex, 0, OFFICIAL_SCALE_SIZES.length - 1);
  const start = Math.max(0, keyLen - OFFICIAL_SCALE_SIZES[si]);
  const mapSize = keyLen - start;
  if (!isSquare(mapSize) || !Number.isInteger(g)) return recentWindow(keyLen, windowSize, queryOffset, queryCount);
  const side = Math.sqrt(mapSize);
  if (side < g) return recentWindow(keyLen, windowSize, queryOffset, queryCount);
  return gridWindow(side, side, g, start, keyLen, windowSize, queryOffset, queryCount);
}

/** Query rows the engine must score against the cache (see planWindow). */
export function windowQueryIndices(a: WindowArgs): Int32Array {
  return planWindow(a).queries;
}

/**
 * F.max_pool1d (implicit -inf padding) or F.avg_pool1d (count_include_pad=True: zero padding, always
 * divided by the kernel) along one axis, stride 1, padding floor(k/2). Odd kernels keep the length.
 */
function pool1d(x: Float64Array, kernel: number, mode: 'maxpool' | 'avgpool'): Float64Array {
  const n = x.length;
  const pad = Math.floor(kernel / 2);
  const out = new Float64Array(n + 2 * pad - kernel + 1);
  for (let i = 0; i < out.length; i++) {
    let m = -Infinity;
    let s = 0;
    for (let t = 0; t < kernel; t++) {
      const j = i - pad + t;
      if (j < 0 || j >= n) continue;
      if (x[j] > m) m = x[j];
      s += x[j];
    }
    out[i] = mode === 'maxpool' ? m : s / kernel;
  }
  return out;
}

/**
 * Indices of the k largest values not in `exclude`, largest first; exact ties go to the lower index.
 * NaN ranks below everything so a broken score can never push real keys out.
 */
function topK(values: Float64Array, k: number, exclude?: ReadonlySet<number>): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (!exclude?.has(i)) idx.push(i);
  const v = (i: number) => (Number.isNaN(values[i]) ? -Infinity : values[i]);
  idx.sort((a, b) => (v(b) > v(a) ? 1 : v(b) < v(a) ? -1 : a - b));
  return idx.slice(0, Math.max(0, k));
}

export interface SelectOptions {
  capacity: number;
  kernel: number;
  pooling: 'maxpool' | 'avgpool';
}

/** Window scores summed over the window's queries, window keys set to -inf (the official mask). */
function windowKeyScores(scores: ArrayLike<number>, rows: number, keyLen: number, windowKeys: Int32Array): Float64Array {
  const summed = new Float64Array(keyLen);
  for (let q = 0; q < rows; q++) {
    const o = q * keyLen;
    for (let j = 0; j < keyLen; j++) summed[j] += scores[o + j];
  }
  for (const k of windowKeys) summed[k] = -Infinity;
  return summed;
}

/**
 * The keep-set of one (row, head).
 * @param scores window logits, [plan.queries.length][keyLen], already scaled by 1/sqrt(d)
 * @returns ascending cache indices, or null when the cache is within capacity (keep everything)
 *
 * capacity < window: the official code intends to keep only the window (its warning says so) but
 * then fails on an unassigned variable; we keep the window, which is more than capacity, so
 * policies refuse budgets below the window size before they get here.
 */
export function selectKeep(scores: ArrayLike<number>, plan: WindowPlan, keyLen: number, o: SelectOptions): Int32Array | null {
  if (keyLen <= o.capacity) return null;
  if (o.kernel <= 0 || o.kernel % 2 === 0)
    throw new ScaleKVError('E_BUDGET_INVALID', `The pooling kernel must be a positive odd integer, got ${o.kernel}.`);
  const W = plan.keys.length;
  if (o.capacity <= W) return Int32Array.from(plan.keys);
  const summed = windowKeyScores(scores, plan.queries.length, keyLen, plan.keys);
  const pooled = pool1d(summed, o.kernel, o.pooling);
  const windowSet = new Set<number>(plan.keys);
  // keyLen > capacity, so this is capacity - W; the official min() only guards impossible inputs
  const rest = topK(pooled, Math.min(o.capacity - W, keyLen - W), windowSet);
  const out = Int32Array.from([...rest, ...plan.keys]);
  return out.sort();
}
