/**
 * Local scales only, a sliding window over scales: keep the most recent whole scales that fit in the
 * budget (at most `maxScales` of them). When even the newest scale is larger than the budget, its
 * last `budget` tokens are kept.
 */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { capToApply, lastN, NOTHING_NEEDED, scaleOfPosition, uniform, type Budget } from './common';

export function localPolicy(budget: Budget, maxScales = Infinity): KvPolicy {
  return {
    name: 'local',
    reset() {},
    needs: () => NOTHING_NEEDED(),
    select(ctx: SelectContext): Selection | null {
      const N = ctx.cacheLen;
      const cap = capToApply(budget, ctx.layer, ctx.scaleIndex, N);
      if (cap === null) return null;
      const scaleOf = scaleOfPosition(ctx.schedule);
      // every (row, head) holds the same positions: this policy only ever keeps suffixes
      let start = N;
      let scales = 0;
      while (start > 0 && scales < maxScales) {
        const s = scaleOf(ctx.positions[start - 1]);
        let b = start - 1;
        while (b > 0 && scaleOf(ctx.positions[b - 1]) === s) b--;
        if (N - b > cap) break;
        start = b;
        scales++;
      }
      return uniform(ctx, start === N ? lastN(N, cap) : lastN(N, N - start));
    },
  };
}
