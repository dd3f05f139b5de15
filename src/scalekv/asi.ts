/**
 * The Attention Selectivity Index (ASI) of the ScaleKV paper (arXiv 2505.19602, Section 3.3), and the
 * older sum index this project used before the paper's formula was recovered.
 *
 * Eq. 2, for layer l at scale k, alpha_ij the softmax attention of query i of the current map to key j,
 * C the current map's keys and P the history (all earlier scales):
 *
 *   ASI(l,k) = E_i[ sum_{j in C} alpha_ij ] x E_i[ TopK'-sum_{j in P} alpha_ij ]
 *
 * (the "current attention ratio" times the "history top-K' ratio"). The engine measures both factors
 * per (row, head) in the block graph (asi_stats); expectations run over the scale's queries, then heads,
 * conditional rows and prompts, each with equal weight, and the product is taken of the two means.
 * Eq. 3: z-scores per scale, Z = (ASI - mean_k) / (std_k + eps) (population std over the layers), then
 * every eligible layer-scale pair is ranked together and the N_d lowest are drafters (rankDrafters).
 *
 * Modes (asiMode): 'eq2' the product; 'current' and 'history' one factor alone (the paper's Fig. 6b
 * ablation); 'sum' the older index: from colsum, A_cur + share of the history's attention held by its
 * top 10% keys (asiFromColsum), which does not need the per-query statistics.
 */
import { ScaleKVError } from '../shared/errors';
import type { AsiMode, LayerRole } from '../shared/types';

export type { AsiMode };
const ASI_MODES: readonly AsiMode[] = ['eq2', 'current', 'history', 'sum'];
export const DEFAULT_ASI_MODE: AsiMode = 'eq2';

/**
 * K' of Eq. 2 when none is set. Measured on the embedded model at 512x512 and 10% (README, "ASI"): K' = 1
 * and 4 pick one drafter set, 8 and 16 another, with the same fidelity (PSNR 23.47-23.48 dB); at 64 the
 * top-K' sum nears the whole history mass (0.39 of 0.60 at scale 7), the index stops telling
 * concentrated from dispersed history attention, and fidelity drops (23.38 dB). 8 is the smallest
 * value of the stable range that includes 16.
 */
export const DEFAULT_ASI_TOP_K = 8;
/** the eps of Eq. 3: a scale whose layers all score the same gets z = 0 everywhere */
export const ASI_Z_EPS = 1e-8;
/** the sum index's share of history keys */
const DEFAULT_HISTORY_TOP = 0.1;

export const ASI_DEFINITIONS: Record<AsiMode, string> = {
  eq2: "ASI = E_i[attention share on the current map] x E_i[sum of the top-K' attention weights on the history] (paper Eq. 2), z-scored per scale and ranked over all layer-scale pairs (Eq. 3)",
  current: 'ASI = E_i[attention share on the current map] alone (Eq. 2 first factor; ablation), z-scored and ranked as Eq. 3',
  history:
    "ASI = E_i[sum of the top-K' attention weights on the history] alone (Eq. 2 second factor; ablation), z-scored and ranked as Eq. 3",
  sum: "ASI = A_cur + A_top from colsum: share of the scale's attention on the current map plus the share held by the top 10% history keys (this project's older index)",
};

export function checkAsiMode(mode: unknown): AsiMode {
  if (!ASI_MODES.includes(mode as AsiMode))
    throw new ScaleKVError('E_INVALID_REQUEST', `asiMode must be one of ${ASI_MODES.join(', ')}, got ${JSON.stringify(mode)}.`);
  return mode as AsiMode;
}

export function checkAsiTopK(k: unknown): number {
  if (!Number.isInteger(k) || (k as number) < 1 || (k as number) > 1_000_000) {
    throw new ScaleKVError(
      'E_INVALID_REQUEST',
      `asiTopK (K' of Eq. 2) must be a whole number of keys from 1 to 1000000, got ${JSON.stringify(k)}.`,
    );
  }
  return k as number;
}

/** The sum index of one (row, head) from its colsum over the cache; the current map is the last curLen keys. */
export function asiFromColsum(
  colsum: ArrayLike<number>,
  offset: number,
  cacheLen: number,
  curLen: number,
  historyTop = DEFAULT_HISTORY_TOP,
): number {
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

/** ASI of one mode from the two Eq. 2 factor means and the sum index. */
function asiOf(mode: AsiMode, current: number, history: number, sum: number): number {
  switch (mode) {
    case 'eq2':
      return current * history;
    case 'current':
      return current;
    case 'history':
      return history;
    case 'sum':
      return sum;
  }
}

/** Eq. 3 for one scale: z-scores of its layers' ASI (NaN stays NaN and does not count). */
export function zScores(asi: number[], eps = ASI_Z_EPS): number[] {
  const v = asi.filter((x) => Number.isFinite(x));
  if (!v.length) return asi.map(() => NaN);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return asi.map((x) => (Number.isFinite(x) ? (x - mean) / (std + eps) : NaN));
}

/**
 * Eq. 3's global ranking: the `drafters` layer-scale pairs with the lowest z among the eligible scales
 * are drafters; every other pair (and every pair of other scales) refines. Ties go to the earlier scale,
 * then the lower layer, so the result does not depend on sort stability. Unmeasured pairs never draft.
 */
export function rankDrafters(asi: number[][], eligibleScales: number[], drafters: number, eps = ASI_Z_EPS): LayerRole[][] {
  const roles = asi.map((layers) => layers.map((): LayerRole => 'refiner'));
  const pairs: { z: number; si: number; l: number }[] = [];
  for (const si of eligibleScales) zScores(asi[si], eps).forEach((z, l) => Number.isFinite(z) && pairs.push({ z, si, l }));
  pairs.sort((a, b) => a.z - b.z || a.si - b.si || a.l - b.l);
  for (const p of pairs.slice(0, Math.max(0, drafters))) roles[p.si][p.l] = 'drafter';
  return roles;
}

/** Roles for one scale from its per-layer ASI: the `drafters` lowest (the older per-scale choice). */
export function classifyLayers(asi: number[], drafters: number): LayerRole[] {
  const order = asi.map((v, l) => [Number.isNaN(v) ? Infinity : v, l] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const roles: LayerRole[] = asi.map(() => 'refiner');
  for (let i = 0; i < Math.min(drafters, order.length); i++) roles[order[i][1]] = 'drafter';
  return roles;
}

export interface AsiState {
  format?: 'scalekv-asi-state';
  depth: number;
  heads: number;
  scales: number;
  historyTop?: number;
  /** sum-index sums [scale][layer][head] */
  sum: number[][][];
  /** measurements added per [scale][layer] (each covers every head of one row) */
  count: number[][];
  /** Eq. 2 factor sums [scale][layer][head], and their measurement counts [scale][layer] */
  current?: number[][][];
  history?: number[][][];
  factorCount?: number[][];
  /** prompts fully measured */
  prompts: number;
}

const dims = (x: unknown, n: number): x is unknown[] => Array.isArray(x) && x.length === n;
const zeros3 = (a: number, b: number, c: number) =>
  Array.from({ length: a }, () => Array.from({ length: b }, () => new Array<number>(c).fill(0)));
const zeros2 = (a: number, b: number) => Array.from({ length: a }, () => new Array<number>(b).fill(0));
const finite3 = (x: unknown, s: AsiState) =>
  dims(x, s.scales) &&
  x.every((sc) => dims(sc, s.depth) && sc.every((hs) => dims(hs, s.heads) && hs.every((v) => typeof v === 'number' && Number.isFinite(v))));
const counts2 = (x: unknown, s: AsiState) =>
  dims(x, s.scales) && x.every((sc) => dims(sc, s.depth) && sc.every((v) => Number.isInteger(v) && (v as number) >= 0));

export interface AsiMeans {
  /** per [scale][layer], averaged over heads; NaN where nothing was measured */
  current: number[][];
  history: number[][];
  sum: number[][];
  /** per [scale][layer][head] */
  currentPerHead: number[][][];
  historyPerHead: number[][][];
  sumPerHead: number[][][];
}

export class AsiAccumulator {
  readonly state: AsiState;

  constructor(depth: number, heads: number, scales: number, state?: AsiState) {
    this.state = state ?? {
      format: 'scalekv-asi-state',
      depth,
      heads,
      scales,
      historyTop: DEFAULT_HISTORY_TOP,
      sum: zeros3(scales, depth, heads),
      count: zeros2(scales, depth),
      current: zeros3(scales, depth, heads),
      history: zeros3(scales, depth, heads),
      factorCount: zeros2(scales, depth),
      prompts: 0,
    };
  }

  /** Resume from saved state; refuses state whose shape does not add up (a torn or foreign file). */
  static fromJSON(s: AsiState): AsiAccumulator {
    const ok =
      s &&
      [s.depth, s.heads, s.scales, s.prompts].every((v) => Number.isInteger(v) && v >= 0) &&
      finite3(s.sum, s) &&
      counts2(s.count, s) &&
      (s.current === undefined || (finite3(s.current, s) && finite3(s.history, s) && counts2(s.factorCount, s)));
    if (!ok)
      throw new ScaleKVError(
        'E_PROFILE_INVALID',
        'The saved calibration state is malformed (its sums do not match its depth, heads and scales); delete it to start over.',
      );
    const full: AsiState = {
      historyTop: DEFAULT_HISTORY_TOP,
      ...s,
      current: s.current ?? zeros3(s.scales, s.depth, s.heads),
      history: s.history ?? zeros3(s.scales, s.depth, s.heads),
      factorCount: s.factorCount ?? zeros2(s.scales, s.depth),
    };
    return new AsiAccumulator(s.depth, s.heads, s.scales, full);
  }

  /**
   * colsum [rows][heads][cacheLen] and, where the scale has history, asiStats [rows][heads][2] (current
   * share, top-K' history sum); only the first `rowsToUse` rows (the conditional ones) count.
   */
  add(
    scaleIndex: number,
    layer: number,
    colsum: ArrayLike<number>,
    rowsToUse: number,
    cacheLen: number,
    curLen: number,
    asiStats?: ArrayLike<number> | null,
  ): void {
    const { heads } = this.state;
    const top = this.state.historyTop ?? DEFAULT_HISTORY_TOP;
    for (let r = 0; r < rowsToUse; r++) {
      for (let h = 0; h < heads; h++)
        this.state.sum[scaleIndex][layer][h] += asiFromColsum(colsum, (r * heads + h) * cacheLen, cacheLen, curLen, top);
      this.state.count[scaleIndex][layer] += 1;
    }
    // without history every query's attention is on the current map and the top-K' history sum is empty
    const stats = asiStats ?? (cacheLen === curLen ? new Float32Array(rowsToUse * heads * 2).map((_, i) => (i % 2 ? 0 : 1)) : null);
    if (stats) this.addFactors(scaleIndex, layer, stats, rowsToUse);
  }

  /** the Eq. 2 factors alone: asiStats [rows][heads][2] */
  addFactors(scaleIndex: number, layer: number, asiStats: ArrayLike<number>, rowsToUse: number): void {
    const { heads } = this.state;
    for (let r = 0; r < rowsToUse; r++) {
      for (let h = 0; h < heads; h++) {
        this.state.current![scaleIndex][layer][h] += asiStats[(r * heads + h) * 2];
        this.state.history![scaleIndex][layer][h] += asiStats[(r * heads + h) * 2 + 1];
      }
      this.state.factorCount![scaleIndex][layer] += 1;
    }
  }

  /** Every measured mean: the two Eq. 2 factors and the sum index, per layer and per head. */
  allMeans(): AsiMeans {
    const s = this.state;
    const perHead = (sums: number[][][], counts: number[][]) =>
      sums.map((sc, si) => sc.map((hs, l) => hs.map((v) => (counts[si][l] ? v / counts[si][l] : NaN))));
    const perLayer = (ph: number[][][]) => ph.map((sc) => sc.map((hs) => hs.reduce((a, b) => a + b, 0) / hs.length));
    const currentPerHead = perHead(s.current!, s.factorCount!);
    const historyPerHead = perHead(s.history!, s.factorCount!);
    const sumPerHead = perHead(s.sum, s.count);
    return {
      current: perLayer(currentPerHead),
      history: perLayer(historyPerHead),
      sum: perLayer(sumPerHead),
      currentPerHead,
      historyPerHead,
      sumPerHead,
    };
  }

  /** ASI of a mode per [scale][layer] and per [scale][layer][head]; NaN where nothing was measured */
  index(mode: AsiMode): { perLayer: number[][]; perHead: number[][][] } {
    const m = this.allMeans();
    const perLayer = m.sum.map((sc, si) => sc.map((v, l) => asiOf(mode, m.current[si][l], m.history[si][l], v)));
    const perHead = m.sumPerHead.map((sc, si) =>
      sc.map((hs, l) => hs.map((v, h) => asiOf(mode, m.currentPerHead[si][l][h], m.historyPerHead[si][l][h], v))),
    );
    return { perLayer, perHead };
  }

  /** the sum index per layer and per head (kept for older callers) */
  means(): { perLayer: number[][]; perHead: number[][][] } {
    return this.index('sum');
  }

  /** the `drafters` lowest sum-index layers of each scale are drafters (ties: lower layer index; unmeasured layers last) */
  classify(drafters: number): LayerRole[][] {
    return this.means().perLayer.map((asi) => classifyLayers(asi, drafters));
  }

  toJSON(): AsiState {
    return this.state;
  }
}
