/**
 * AMS-KV (arXiv 2511.16047): keep the condensed earliest scales (global layout) and the most recent
 * local scales, with larger budgets for cache-demanding layers. AMS-KV finds those layers by the
 * similarity of KV between scales; here they are the profile's drafters when a calibrated profile is
 * given, otherwise every layer gets the same budget.
 */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { stack } from './common';

export function amskvPolicy(budget: (layer: number, scaleIndex: number) => number | null, condensedTokens: number): KvPolicy {
  return {
    name: 'amskv',
    reset() {},
    needs: () => ({ windowQueries: null, queryMode: 'code', colsum: false }),
    select(ctx: SelectContext): Selection | null {
      const cap = budget(ctx.layer, ctx.scaleIndex);
      const N = ctx.cacheLen;
      if (cap === null || N <= cap) return null;
      const lists: Int32Array[] = [];
      for (let rh = 0; rh < ctx.rows * ctx.heads; rh++) {
        const keep = new Set<number>();
        // condensed context: entries holding the earliest scales' tokens, at most half the budget
        const half = Math.floor(cap / 2);
        for (let j = 0; j < N && keep.size < half; j++) if (ctx.positions[rh * N + j] < condensedTokens) keep.add(j);
        // local context: the most recent entries fill the rest
        for (let j = N - 1; j >= 0 && keep.size < cap; j--) keep.add(j);
        lists.push(Int32Array.from([...keep].sort((a, b) => a - b)));
      }
      return stack(lists);
    },
  };
}
