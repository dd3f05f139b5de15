/**
 * AMS-KV (arXiv 2511.16047): keep the condensed scales (the coarsest few, global layout) and the most
 * recent local scales, and give cache-demanding layers a larger budget. AMS-KV finds those layers by
 * weak KV similarity between scales, which needs statistics the engine does not collect; here they
 * are a calibrated profile's drafters when one is given, and without one every layer gets the same
 * budget (a uniform split, reported by createPolicy's note).
 * Within a budget: condensed-scale entries first (at most half of it), the most recent entries fill
 * the rest, so the newest scales are kept whole as far as the budget allows.
 */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { capToApply, NOTHING_NEEDED, stack, type Budget } from './common';

export function amskvPolicy(budget: Budget, condensedTokens: number): KvPolicy {
  return {
    name: 'amskv',
    reset() {},
    needs: () => NOTHING_NEEDED(),
    select(ctx: SelectContext): Selection | null {
      const N = ctx.cacheLen;
      const cap = capToApply(budget, ctx.layer, ctx.scaleIndex, N);
      if (cap === null) return null;
      const half = Math.floor(cap / 2);
      const lists: Int32Array[] = [];
      for (let rh = 0; rh < ctx.rows * ctx.heads; rh++) {
        const keep = new Uint8Array(N);
        let n = 0;
        for (let j = 0; j < N && n < half; j++) {
          if (ctx.positions[rh * N + j] < condensedTokens) {
            keep[j] = 1;
            n++;
          }
        }
        for (let j = N - 1; j >= 0 && n < cap; j--) {
          if (!keep[j]) {
            keep[j] = 1;
            n++;
          }
        }
        const l = new Int32Array(n);
        let i = 0;
        for (let j = 0; j < N; j++) if (keep[j]) l[i++] = j;
        lists.push(l);
      }
      return stack(lists);
    },
  };
}
