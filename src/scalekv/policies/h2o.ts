/**
 * H2O-style heavy hitters: every cached token accumulates the attention it receives at every scale
 * (colsum, per row and head); under a budget, up to half of it keeps the most recent tokens and the
 * rest the tokens with the highest accumulated attention (ties: lower index).
 */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { capToApply, stack, type Budget } from './common';

export function h2oPolicy(budget: Budget): KvPolicy {
  // accumulated attention per cache entry, [rows][heads][cacheLen], per layer
  const acc = new Map<number, Float64Array>();
  return {
    name: 'h2o',
    reset: () => acc.clear(),
    needs: () => ({ windowQueries: null, queryMode: 'code', colsum: true }),
    select(ctx: SelectContext): Selection | null {
      const N = ctx.cacheLen;
      const RH = ctx.rows * ctx.heads;
      const prevLen = N - ctx.curLen;
      const stored = acc.get(ctx.layer);
      // a stale or foreign accumulator (another run's shapes) counts as no history
      const prev = stored && stored.length === RH * prevLen ? stored : null;
      const score = new Float64Array(RH * N);
      for (let rh = 0; rh < RH; rh++) {
        for (let j = 0; j < N; j++) {
          const old = prev && j < prevLen ? prev[rh * prevLen + j] : 0;
          score[rh * N + j] = old + (ctx.colsum ? ctx.colsum[rh * N + j] : 0);
        }
      }
      const cap = capToApply(budget, ctx.layer, ctx.scaleIndex, N);
      if (cap === null) {
        acc.set(ctx.layer, score);
        return null;
      }
      const recent = Math.min(ctx.curLen, Math.floor(cap / 2));
      const lists: Int32Array[] = [];
      const next = new Float64Array(RH * cap);
      for (let rh = 0; rh < RH; rh++) {
        const o = rh * N;
        const order = Array.from({ length: N - recent }, (_, j) => j).sort((a, b) => score[o + b] - score[o + a] || a - b);
        const l = Int32Array.from([...order.slice(0, cap - recent), ...Array.from({ length: recent }, (_, i) => N - recent + i)]).sort();
        l.forEach((j, i) => (next[rh * cap + i] = score[o + j]));
        lists.push(l);
      }
      acc.set(ctx.layer, next);
      return stack(lists);
    },
  };
}
