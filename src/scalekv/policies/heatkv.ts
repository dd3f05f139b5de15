/**
 * HeatKV (Cederlund et al., arXiv 2605.14877): a static, head-specific pruning schedule from calibration.
 * Each (layer, head, source scale) gets its Scale-dependent Cumulative Attention Score (S-CAS, see
 * src/scalekv/headStats.ts); the first `sinkScales` scales are never pruned; at every compressed scale
 * the (head, source scale) pairs with the lowest S-CAS lose that scale's tokens until the cache fits the
 * memory budget.
 *
 * Here: the budget is the uniform baselines' total for the ratio (the same accounting as every other
 * policy). Removing pairs in ascending S-CAS (ties: later layer, then later source scale, then higher
 * head) until the heads' mean length fits gives each layer the mean of its heads' lengths: the engine
 * keeps one cache length per layer, so the paper's per-head lengths become per-layer ones. Within that
 * length each head keeps its own highest-S-CAS source scales whole (the sink scales first) and thins the
 * next one evenly.
 */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { ScaleKVError } from '../../shared/errors';
import type { HeatStats, ScaleShape } from '../../shared/types';
import { capToApply, NOTHING_NEEDED, scaleOfPosition, stack, type Budget } from './common';

/** the authors' default: the first four scales (57 tokens at 1:1) are never pruned */
const DEFAULT_HEAT_SINK_SCALES = 4;

/**
 * The authors' four sink scales are 57 tokens at 1:1, under 1% of the cache at 1024x1024; on small
 * schedules or ratios they can exceed a layer's whole budget. Without an explicit setting, as many of the
 * first four scales as fit in the smallest per-layer budget are sinks.
 */
export function fittingSinkScales(schedule: ScaleShape[], smallestLayerBudget: number): number {
  let tokens = 0;
  let n = 0;
  while (n < Math.min(DEFAULT_HEAT_SINK_SCALES, schedule.length)) {
    const next = schedule[n].h * schedule[n].w;
    if (tokens + next > smallestLayerBudget) break;
    tokens += next;
    n++;
  }
  return n;
}

export function heatkvBudget(uniform: Budget, stats: HeatStats, schedule: ScaleShape[], sinkScales = DEFAULT_HEAT_SINK_SCALES): Budget {
  const depth = stats.scas.length;
  const H = stats.scas[0]?.length ?? 1;
  const tokens = schedule.map((s) => s.h * s.w);
  const sink = tokens.slice(0, sinkScales).reduce((a, b) => a + b, 0);
  const cache = new Map<number, number[] | null>();
  const plan = (si: number): number[] | null => {
    if (cache.has(si)) return cache.get(si)!;
    const u = Array.from({ length: depth }, (_, l) => uniform(l, si));
    if (u.some((b) => b === null)) {
      cache.set(si, null);
      return null;
    }
    const total = u.reduce((a, b) => a! + b!, 0)!;
    // per-head lengths in head-tokens: start from everything, remove the cheapest atoms first
    const kept = Array.from({ length: depth }, () => new Array<number>(H).fill(0));
    const atoms: { v: number; l: number; h: number; s: number }[] = [];
    let sum = 0;
    for (let l = 0; l < depth; l++) {
      for (let h = 0; h < H; h++) {
        kept[l][h] = tokens.slice(0, si + 1).reduce((a, b) => a + b, 0);
        sum += kept[l][h];
        for (let s = sinkScales; s <= si; s++) atoms.push({ v: stats.scas[l][h][s] ?? 0, l, h, s });
      }
    }
    if (depth * Math.min(sink, kept[0][0]) > total) {
      throw new ScaleKVError(
        'E_BUDGET_INVALID',
        `HeatKV keeps its ${sinkScales} sink scales (${sink} tokens per layer) whole, more than this ratio allows (${Math.floor(total / depth)} per layer); use a larger ratio or fewer sink scales.`,
      );
    }
    atoms.sort((a, b) => a.v - b.v || b.l - a.l || b.s - a.s || b.h - a.h);
    for (const a of atoms) {
      if (sum / H <= total) break;
      kept[a.l][a.h] -= tokens[a.s];
      sum -= tokens[a.s];
    }
    const lens = kept.map((hs) => Math.max(1, Math.floor(hs.reduce((a, b) => a + b, 0) / H)));
    cache.set(si, lens);
    return lens;
  };
  return (l, si) => plan(si)?.[l] ?? null;
}

/** `n` of the given indices, spread evenly (always including the last). */
function thin(idx: number[], n: number): number[] {
  return Array.from({ length: n }, (_, i) => idx[Math.floor(((i + 1) * idx.length) / n) - 1]);
}

export function heatkvPolicy(budget: Budget, stats: HeatStats, schedule: ScaleShape[], sinkScales = DEFAULT_HEAT_SINK_SCALES): KvPolicy {
  const scaleOf = scaleOfPosition(schedule);
  return {
    name: 'heatkv',
    reset() {},
    needs: () => NOTHING_NEEDED(),
    select(ctx: SelectContext): Selection | null {
      const N = ctx.cacheLen;
      const cap = capToApply(budget, ctx.layer, ctx.scaleIndex, N);
      if (cap === null) return null;
      const lists: Int32Array[] = [];
      for (let r = 0; r < ctx.rows; r++) {
        for (let h = 0; h < ctx.heads; h++) {
          const o = (r * ctx.heads + h) * N;
          const groups = new Map<number, number[]>();
          for (let j = 0; j < N; j++) {
            const s = scaleOf(ctx.positions[o + j]);
            if (!groups.has(s)) groups.set(s, []);
            groups.get(s)!.push(j);
          }
          const prio = (s: number) => (s < sinkScales ? Infinity : (stats.scas[ctx.layer][h][s] ?? 0));
          const order = [...groups.keys()].sort((a, b) => prio(b) - prio(a) || b - a);
          const keep: number[] = [];
          for (const s of order) {
            const g = groups.get(s)!;
            const room = cap - keep.length;
            if (room <= 0) break;
            keep.push(...(g.length <= room ? g : thin(g, room)));
          }
          lists.push(Int32Array.from(keep).sort());
        }
      }
      return stack(lists);
    },
  };
}
