/**
 * H2O-style heavy hitters: every cached token accumulates the attention it receives across scales;
 * under a budget, half of it keeps the most recent tokens and the rest the highest accumulated scores.
 */
import type { KvPolicy, SelectContext, Selection } from '../../kvcache/policy';
import { stack } from './common';

export function h2oPolicy(budget: (layer: number, scaleIndex: number) => number | null): KvPolicy {
  // accumulated attention per cache entry, [rows][heads][cacheLen], per layer
  const acc = new Map<number, Float64Array>();
  return {
    name: 'h2o',
    reset: () => acc.clear(),
    needs: () => ({ windowQueries: null, queryMode: 'code', colsum: true }),
    select(ctx: SelectContext): Selection | null {
      const N = ctx.cacheLen;
      const RH = ctx.rows * ctx.heads;
      const prev = acc.get(ctx.layer);
      const prevLen = N - ctx.curLen;
      const score = new Float64Array(RH * N);
      for (let rh = 0; rh < RH; rh++) {
        for (let j = 0; j < N; j++) {
          const old = prev && j < prevLen ? prev[rh * prevLen + j] : 0;
          score[rh * N + j] = old + (ctx.colsum ? ctx.colsum[rh * N + j] : 0);
        }
      }
      const cap = budget(ctx.layer, ctx.scaleIndex);
      if (cap === null || N <= cap) {
        acc.set(ctx.layer, score);
        return null;
      }
      const recent = Math.min(ctx.curLen, Math.floor(cap / 2));
      const lists: Int32Array[] = [];
      const next = new Float64Array(RH * cap);
      for (let rh = 0; rh < RH; rh++) {
        const keep = new Set<number>();
        for (let j = N - recent; j < N; j++) keep.add(j);
        const order = Array.from({ length: N - recent }, (_, j) => j).sort((a, b) => score[rh * N + b] - score[rh * N + a] || a - b);
        for (const j of order) {
          if (keep.size >= cap) break;
          keep.add(j);
        }
        const l = Int32Array.from([...keep].sort((a, b) => a - b));
        l.forEach((j, i) => (next[rh * cap + i] = score[rh * N + j]));
        lists.push(l);
      }
      acc.set(ctx.layer, next);
      return stack(lists);
    },
  };
}
