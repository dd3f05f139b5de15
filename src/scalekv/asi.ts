/**
 * The Attention Selectivity Index (ASI) of a layer at a scale: how much of the layer's attention a
 * small cache would capture. From the attention mass each cached key receives from the scale's
 * queries (normalised to a distribution p over keys), ASI = A_cur + (1 - A_cur) x C_hist, where
 * A_cur is the mass on the current token map and C_hist the share of the history's mass held by its
 * top `historyTop` fraction of keys. Refiners (attention on the current map, or on a few history
 * tokens) score near 1; drafters (attention spread over many earlier tokens) score low, and the
 * lowest-ASI layers of each scale become its drafters. This follows the paper's description of the
 * two kinds of layers; its exact formula could not be retrieved here, so this one is ours and is kept
 * in this one place.
 */
import type { LayerRole } from '../shared/types';

export const ASI_DEFINITION =
  'ASI = A_cur + (1 - A_cur) * C_hist, A_cur = attention share on the current token map, C_hist = share of history attention on its top 10% keys; mean over heads, rows and prompts; lowest-ASI layers are drafters.';

/** ASI of one head from its per-key attention mass over the cache (current scale = last curLen keys). */
export function headAsi(colsum: Float32Array | Float64Array, offset: number, cacheLen: number, curLen: number, historyTop = 0.1): number {
  let total = 0;
  for (let j = 0; j < cacheLen; j++) total += colsum[offset + j];
  if (!(total > 0)) return 1;
  const hist = cacheLen - curLen;
  let cur = 0;
  for (let j = hist; j < cacheLen; j++) cur += colsum[offset + j];
  const aCur = cur / total;
  if (hist <= 0) return 1;
  const h = Array.from({ length: hist }, (_, j) => colsum[offset + j]).sort((a, b) => b - a);
  const top = Math.max(1, Math.ceil(historyTop * hist));
  let hm = 0;
  let tm = 0;
  for (let j = 0; j < hist; j++) {
    hm += h[j];
    if (j < top) tm += h[j];
  }
  const cHist = hm > 0 ? tm / hm : 1;
  return aCur + (1 - aCur) * cHist;
}

export interface AsiState {
  depth: number;
  heads: number;
  scales: number;
  /** sums [scale][layer][head] */
  sum: number[][][];
  count: number[][];
  /** prompts fully measured */
  prompts: number;
}

export class AsiAccumulator {
  readonly state: AsiState;

  constructor(depth: number, heads: number, scales: number, state?: AsiState) {
    this.state = state ?? {
      depth,
      heads,
      scales,
      sum: Array.from({ length: scales }, () => Array.from({ length: depth }, () => new Array(heads).fill(0))),
      count: Array.from({ length: scales }, () => new Array(depth).fill(0)),
      prompts: 0,
    };
  }

  static fromJSON(s: AsiState): AsiAccumulator {
    return new AsiAccumulator(s.depth, s.heads, s.scales, s);
  }

  /** colsum [rows][heads][cacheLen]; only the first `rowsToUse` rows (conditional ones) count */
  add(scaleIndex: number, layer: number, colsum: Float32Array, rowsToUse: number, cacheLen: number, curLen: number): void {
    const { heads } = this.state;
    for (let r = 0; r < rowsToUse; r++) {
      for (let h = 0; h < heads; h++) this.state.sum[scaleIndex][layer][h] += headAsi(colsum, (r * heads + h) * cacheLen, cacheLen, curLen);
      this.state.count[scaleIndex][layer] += 1;
    }
  }

  /** mean ASI [scale][layer] and [scale][layer][head] */
  means(): { perLayer: number[][]; perHead: number[][][] } {
    const perHead = this.state.sum.map((sc, si) => sc.map((hs, l) => hs.map((v) => (this.state.count[si][l] ? v / this.state.count[si][l] : NaN))));
    const perLayer = perHead.map((sc) => sc.map((hs) => hs.reduce((a, b) => a + b, 0) / hs.length));
    return { perLayer, perHead };
  }

  /** the `drafters` lowest-ASI layers of each scale are drafters (ties: lower layer index) */
  classify(drafters: number): LayerRole[][] {
    return this.means().perLayer.map((asi) => {
      const order = asi.map((v, l) => [Number.isNaN(v) ? Infinity : v, l] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const roles: LayerRole[] = asi.map(() => 'refiner');
      for (let i = 0; i < Math.min(drafters, order.length); i++) roles[order[i][1]] = 'drafter';
      return roles;
    });
  }

  toJSON(): AsiState {
    return this.state;
  }
}
