/**
 * Per-head calibration statistics for the head-aware policies, measured in the same full-cache pass as
 * ScaleKV's ASI, from each scale's colsum (attention probability per cached key summed over the scale's
 * queries; during calibration the cache is whole, so key j is token position j):
 *  - HACK (arXiv 2504.09261) separates contextual heads (vertical attention: every query looks at the same
 *    few keys) from structural heads (diagonal: each query at its own spatial counterpart) by how
 *    unevenly attention falls on the history keys. Verticality of one (row, head) at one scale, with p_j
 *    the history keys' shares of the history attention: N_hist x sum_j p_j^2 - 1 (0 when every key gets
 *    the same, N_hist - 1 when one key gets all);
 *  - HeatKV (arXiv 2605.14877): the Scale-dependent Cumulative Attention Score S-CAS(layer, head, s), the
 *    attention mass the queries of every later scale put on source scale s, averaged over queries, later
 *    scales and prompts (as the authors' calibration script computes it).
 * Conditional rows only, like the ASI.
 */
import { ScaleKVError } from '../shared/errors';
import type { HackStats, HeatStats, ScaleShape } from '../shared/types';
import { cumulativeTokens } from '../model/schedule';

/** Verticality of one (row, head) from its colsum over the cache; NaN with fewer than two history keys. */
export function verticality(colsum: ArrayLike<number>, offset: number, cacheLen: number, curLen: number): number {
  const hist = cacheLen - curLen;
  if (hist < 2) return NaN;
  let total = 0;
  let sq = 0;
  for (let j = 0; j < hist; j++) {
    const v = Math.max(0, colsum[offset + j]);
    total += v;
    sq += v * v;
  }
  return total > 0 ? (hist * sq) / (total * total) - 1 : NaN;
}

export interface HeadStatsState {
  depth: number;
  heads: number;
  scales: number;
  /** verticality sums and counts [layer][head] */
  vertSum: number[][];
  vertCount: number[][];
  /** S-CAS sums and counts [layer][head][source scale] */
  heatSum: number[][][];
  heatCount: number[][][];
}

const grid2 = (a: number, b: number) => Array.from({ length: a }, () => new Array<number>(b).fill(0));
const grid3 = (a: number, b: number, c: number) => Array.from({ length: a }, () => grid2(b, c));
const shaped = (x: unknown, dims: number[]): boolean =>
  dims.length === 0
    ? typeof x === 'number' && Number.isFinite(x)
    : Array.isArray(x) && x.length === dims[0] && x.every((y) => shaped(y, dims.slice(1)));

export class HeadStatsAccumulator {
  readonly state: HeadStatsState;
  private readonly starts: number[];

  constructor(
    readonly schedule: ScaleShape[],
    depth: number,
    heads: number,
    state?: HeadStatsState,
  ) {
    const n = schedule.length;
    this.state = state ?? {
      depth,
      heads,
      scales: n,
      vertSum: grid2(depth, heads),
      vertCount: grid2(depth, heads),
      heatSum: grid3(depth, heads, n),
      heatCount: grid3(depth, heads, n),
    };
    const cum = cumulativeTokens(schedule);
    this.starts = cum.map((c, si) => c - schedule[si].h * schedule[si].w);
  }

  static fromJSON(schedule: ScaleShape[], s: HeadStatsState): HeadStatsAccumulator {
    const ok =
      s &&
      s.scales === schedule.length &&
      shaped(s.vertSum, [s.depth, s.heads]) &&
      shaped(s.vertCount, [s.depth, s.heads]) &&
      shaped(s.heatSum, [s.depth, s.heads, s.scales]) &&
      shaped(s.heatCount, [s.depth, s.heads, s.scales]);
    if (!ok)
      throw new ScaleKVError(
        'E_PROFILE_INVALID',
        'The saved per-head calibration statistics are malformed; delete the state file to start over.',
      );
    return new HeadStatsAccumulator(schedule, s.depth, s.heads, s);
  }

  /** colsum [rows][heads][cacheLen] of one layer at one scale, full cache; the first rowsToUse rows count */
  add(scaleIndex: number, layer: number, colsum: ArrayLike<number>, rowsToUse: number, cacheLen: number, curLen: number): void {
    const { heads } = this.state;
    for (let r = 0; r < rowsToUse; r++) {
      for (let h = 0; h < heads; h++) {
        const o = (r * heads + h) * cacheLen;
        const v = verticality(colsum, o, cacheLen, curLen);
        if (Number.isFinite(v)) {
          this.state.vertSum[layer][h] += v;
          this.state.vertCount[layer][h] += 1;
        }
        for (let s = 0; s < scaleIndex; s++) {
          const end = Math.min(cacheLen - curLen, this.starts[s] + this.schedule[s].h * this.schedule[s].w);
          let mass = 0;
          for (let j = this.starts[s]; j < end; j++) mass += colsum[o + j];
          this.state.heatSum[layer][h][s] += mass / curLen;
          this.state.heatCount[layer][h][s] += 1;
        }
      }
    }
  }

  hack(): HackStats {
    return {
      verticality: this.state.vertSum.map((hs, l) => hs.map((v, h) => (this.state.vertCount[l][h] ? v / this.state.vertCount[l][h] : 0))),
    };
  }

  /** S-CAS; 0 for source scales no later scale attended (the last) */
  heat(): HeatStats {
    return {
      scas: this.state.heatSum.map((hs, l) =>
        hs.map((ss, h) => ss.map((v, s) => (this.state.heatCount[l][h][s] ? v / this.state.heatCount[l][h][s] : 0))),
      ),
    };
  }

  toJSON(): HeadStatsState {
    return this.state;
  }
}
