/**
 * HACK (Qin et al., arXiv 2504.09261, AAAI-26): head-aware KV compression for VAR models. Heads are
 * classified offline into contextual heads (vertical attention: all queries look at the same few keys,
 * semantic consistency) and structural heads (multi-diagonal: each query looks at its spatial
 * counterparts in earlier scales, spatial coherence); the two get asymmetric budgets and their own
 * selection rule.
 *
 * Here (what the paper gives and what we had to choose is listed in the README):
 *  - classification from the calibrated verticality (src/scalekv/headStats.ts): the `contextualFraction`
 *    most vertical heads of the model are contextual;
 *  - budgets: a contextual head is worth `contextualShare` of the per-layer average, structural heads
 *    share the rest, so every compressed scale holds the same total as the uniform baselines. The
 *    engine keeps one cache length per layer (a [rows, heads, tokens, dim] tensor), so a layer's length
 *    is the mean of its heads' budgets: layers with more structural heads hold more;
 *  - contextual heads keep the keys this scale's queries attend to most (colsum, the vertical columns);
 *    structural heads keep the most recent tokens (the current map and the scales just before it, where
 *    the diagonals are), thinning the current map evenly when even it does not fit.
 */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { ScaleKVError } from '../../shared/errors';
import type { HackStats } from '../../shared/types';
import { capToApply, stack, type Budget } from './common';

const DEFAULT_HACK_CONTEXTUAL_FRACTION = 0.5;
const DEFAULT_HACK_CONTEXTUAL_SHARE = 0.5;

/** contextual[layer][head]: the `fraction` most vertical heads (ties: lower layer, then lower head). */
export function classifyHeads(stats: HackStats, fraction = DEFAULT_HACK_CONTEXTUAL_FRACTION): boolean[][] {
  const all = stats.verticality.flatMap((hs, l) => hs.map((v, h) => ({ v, l, h })));
  all.sort((a, b) => b.v - a.v || a.l - b.l || a.h - b.h);
  const n = Math.round(fraction * all.length);
  const out = stats.verticality.map((hs) => hs.map(() => false));
  for (const x of all.slice(0, n)) out[x.l][x.h] = true;
  return out;
}

/**
 * Per-layer budgets from the uniform ones: a contextual head counts `share` of the layer average,
 * structural heads the rest of the model's total, so the layers together hold what the uniform split holds.
 */
export function hackBudget(uniform: Budget, contextual: boolean[][], share = DEFAULT_HACK_CONTEXTUAL_SHARE): Budget {
  if (!(share > 0 && share <= 1))
    throw new ScaleKVError('E_BUDGET_INVALID', `HACK's contextual-head share must be within (0, 1], got ${share}.`);
  const depth = contextual.length;
  const H = contextual[0]?.length ?? 1;
  const c = contextual.map((hs) => hs.filter(Boolean).length);
  const C = c.reduce((a, b) => a + b, 0);
  const structural = C === depth * H ? share : (depth * H - share * C) / (depth * H - C);
  return (l, si) => {
    const avg = uniform(l, si);
    if (avg === null) return null;
    return Math.max(1, Math.floor((avg * (c[l] * share + (H - c[l]) * structural)) / H));
  };
}

/** `n` indices of [from, to) spread evenly (always including the last). */
function evenly(from: number, to: number, n: number): number[] {
  const len = to - from;
  return Array.from({ length: n }, (_, i) => from + Math.floor(((i + 1) * len) / n) - 1);
}

export function hackPolicy(budget: Budget, contextual: boolean[][]): KvPolicy {
  return {
    name: 'hack',
    reset() {},
    needs: (layer, si, cacheLen) => {
      const cut = capToApply(budget, layer, si, cacheLen) !== null;
      return { windowQueries: null, queryMode: 'code', colsum: cut && contextual[layer].some(Boolean) };
    },
    select(ctx: SelectContext): Selection | null {
      const N = ctx.cacheLen;
      const cap = capToApply(budget, ctx.layer, ctx.scaleIndex, N);
      if (cap === null) return null;
      const lists: Int32Array[] = [];
      for (let r = 0; r < ctx.rows; r++) {
        for (let h = 0; h < ctx.heads; h++) {
          if (contextual[ctx.layer][h]) {
            if (!ctx.colsum)
              throw new ScaleKVError('E_INTERNAL', `hack: no attention statistics for layer ${ctx.layer} at scale ${ctx.scaleIndex}.`);
            const o = (r * ctx.heads + h) * N;
            const order = Array.from({ length: N }, (_, j) => j).sort((a, b) => ctx.colsum![o + b] - ctx.colsum![o + a] || a - b);
            lists.push(Int32Array.from(order.slice(0, cap)).sort());
          } else {
            const keep = cap >= ctx.curLen ? Array.from({ length: cap }, (_, i) => N - cap + i) : evenly(N - ctx.curLen, N, cap);
            lists.push(Int32Array.from(keep));
          }
        }
      }
      return stack(lists);
    },
  };
}
