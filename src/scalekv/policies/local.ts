/** Local scales only (a sliding window over scales): keep the most recent tokens within the budget. */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { lastN, uniform } from './common';

export function localPolicy(budget: (layer: number, scaleIndex: number) => number | null): KvPolicy {
  return {
    name: 'local',
    reset() {},
    needs: () => ({ windowQueries: null, queryMode: 'code', colsum: false }),
    select(ctx: SelectContext): Selection | null {
      const cap = budget(ctx.layer, ctx.scaleIndex);
      if (cap === null || ctx.cacheLen <= cap) return null;
      return uniform(ctx, lastN(ctx.cacheLen, cap));
    },
  };
}
