/**
 * The Attention Selectivity Index (ASI), from the statistic the engine can give without storing
 * attention maps: per cached key, the attention probability it receives summed over the scale's
 * queries (colsum), with the current scale's keys being the last curLen entries.
 *
 * The paper (arXiv 2505.19602) describes ASI as combining two things: how much attention goes to the
 * current token map, and how concentrated the attention to the history (earlier scales) is on a few
 * keys. Its exact formula could not be retrieved here, so this is our definition of that idea, kept
 * in this one function (asiFromColsum):
 *
 *   p_j   = colsum_j / sum(colsum)                       (attention share of cached key j)
 *   A_cur = sum of p_j over the current map's keys
 *   A_top = sum of p_j over the top ceil(f x |history|) history keys by p_j    (f = 0.1 by default)
 *   ASI   = A_cur + A_top   (in [0, 1])
 *
 * A layer that keeps its attention on the current map, or on a handful of history keys, has a high
 * ASI: a small cache (current map + a few selected keys) captures nearly all of its attention, so it
 * is a refiner. A layer whose attention spreads evenly over many earlier tokens scores low and needs
 * a large cache: the lowest-ASI layers of each scale are its drafters.
 * Differences from a per-query definition: the top history keys are chosen from attention summed over
 * the scale's queries (what colsum offers), not per query. Heads are averaged with equal weight, then
 * conditional rows, then prompts. Where a scale has no history (the first), ASI is 1.
 */
import { ScaleKVError } from '../shared/errors';
import type { LayerRole } from '../shared/types';

const DEFAULT_HISTORY_TOP = 0.1;

export const ASI_DEFINITION =
  'ASI = A_cur + A_top: A_cur = share of the scale\'s attention (colsum over its queries) on the current token map, A_top = share on the top 10% history keys by attention; averaged over heads, conditional rows and prompts; the lowest-ASI layers of each scale are its drafters.';

/** ASI of one (row, head) from its colsum over the cache; the current map is the last curLen keys. */
export function asiFromColsum(colsum: ArrayLike<number>, offset: number, cacheLen: number, curLen: number, historyTop = DEFAULT_HISTORY_TOP): number {
  const hist = cacheLen - curLen;
  let total = 0;
  for (let j = 0; j < cacheLen; j++) total += Math.max(0, colsum[offset + j]);
  if (!(total > 0) || hist <= 0) return 1;
  let cur = 0;
  for (let j = hist; j < cacheLen; j++) cur += Math.max(0, colsum[offset + j]);
  const h = new Float64Array(hist);
  for (let j = 0; j < hist; j++) h[j] = Math.max(0, colsum[offset + j]);
  h.sort();
  const top = Math.max(1, Math.ceil(historyTop * hist));
  let topMass = 0;
  for (let j = hist - 1; j >= hist - top; j--) topMass += h[j];
  return (cur + topMass) / total;
}

export interface AsiState {
  format?: 'scalekv-asi-state';
  depth: number;
  heads: number;
  scales: number;
  historyTop?: number;
  /** ASI sums [scale][layer][head] */
  sum: number[][][];
  /** measurements added per [scale][layer] (each covers every head of one row) */
  count: number[][];
  /** prompts fully measured */
  prompts: number;
}

const dims = (x: unknown, n: number): x is unknown[] => Array.isArray(x) && x.length === n;

export class AsiAccumulator {
  readonly state: AsiState;

  constructor(depth: number, heads: number, scales: number, state?: AsiState) {
    this.state = state ?? {
      format: 'scalekv-asi-state',
      depth,
      heads,
      scales,
      historyTop: DEFAULT_HISTORY_TOP,
      sum: Array.from({ length: scales }, () => Array.from({ length: depth }, () => new Array<number>(heads).fill(0))),
      count: Array.from({ length: scales }, () => new Array<number>(depth).fill(0)),
      prompts: 0,
    };
  }

  /** Resume from saved state; refuses state whose shape does not add up (a torn or foreign file). */
  static fromJSON(s: AsiState): AsiAccumulator {
    const ok =
      s &&
      [s.depth, s.heads, s.scales, s.prompts].every((v) => Number.isInteger(v) && v >= 0) &&
      dims(s.sum, s.scales) &&
      s.sum.every((sc) => dims(sc, s.depth) && sc.every((hs) => dims(hs, s.heads) && hs.every((v) => typeof v === 'number' && Number.isFinite(v)))) &&
      dims(s.count, s.scales) &&
      s.count.every((sc) => dims(sc, s.depth) && sc.every((v) => Number.isInteger(v) && v >= 0));
    if (!ok) throw new ScaleKVError('E_PROFILE_INVALID', 'The saved calibration state is malformed (its sums do not match its depth, heads and scales); delete it to start over.');
    return new AsiAccumulator(s.depth, s.heads, s.scales, { historyTop: DEFAULT_HISTORY_TOP, ...s });
  }

  /** colsum [rows][heads][cacheLen]; only the first `rowsToUse` rows (the conditional ones) count */
  add(scaleIndex: number, layer: number, colsum: ArrayLike<number>, rowsToUse: number, cacheLen: number, curLen: number): void {
    const { heads } = this.state;
    const top = this.state.historyTop ?? DEFAULT_HISTORY_TOP;
    for (let r = 0; r < rowsToUse; r++) {
      for (let h = 0; h < heads; h++) this.state.sum[scaleIndex][layer][h] += asiFromColsum(colsum, (r * heads + h) * cacheLen, cacheLen, curLen, top);
      this.state.count[scaleIndex][layer] += 1;
    }
  }

  /** mean ASI [scale][layer] and [scale][layer][head]; NaN where nothing was measured */
  means(): { perLayer: number[][]; perHead: number[][][] } {
    const perHead = this.state.sum.map((sc, si) => sc.map((hs, l) => hs.map((v) => (this.state.count[si][l] ? v / this.state.count[si][l] : NaN))));
    const perLayer = perHead.map((sc) => sc.map((hs) => hs.reduce((a, b) => a + b, 0) / hs.length));
    return { perLayer, perHead };
  }

  /** the `drafters` lowest-ASI layers of each scale are drafters (ties: lower layer index; unmeasured layers last) */
  classify(drafters: number): LayerRole[][] {
    return this.means().perLayer.map((asi) => classifyLayers(asi, drafters));
  }

  toJSON(): AsiState {
    return this.state;
  }
}

/** Roles for one scale from its per-layer ASI. */
export function classifyLayers(asi: number[], drafters: number): LayerRole[] {
  const order = asi.map((v, l) => [Number.isNaN(v) ? Infinity : v, l] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const roles: LayerRole[] = asi.map(() => 'refiner');
  for (let i = 0; i < Math.min(drafters, order.length); i++) roles[order[i][1]] = 'drafter';
  return roles;
}
