/**
 * Observation-window selection with a per-layer, per-scale budget: ScaleKV (drafter and refiner
 * budgets from a profile) and SnapKV (one budget for every layer) differ only in the budget.
 */
import type { KvPolicy, PolicyNeeds, SelectContext, Selection } from '../../kvcache/policy';
import type { PolicyName, ScaleShape, WindowQueryMode } from '../../shared/types';
import { planWindow, selectKeep, type WindowPlan } from '../tokenSelection';
import { stack } from './common';

export interface WindowedOptions {
  windowSize: number;
  kernel: number;
  pooling: 'maxpool' | 'avgpool';
  queryMode: WindowQueryMode;
}

export function windowedPolicy(name: PolicyName, budget: (layer: number, scaleIndex: number) => number | null, o: WindowedOptions): KvPolicy {
  const plans = new Map<number, WindowPlan>();
  const none: PolicyNeeds = { windowQueries: null, queryMode: o.queryMode, colsum: false };
  return {
    name,
    reset: () => plans.clear(),
    needs(layer: number, si: number, cacheLen: number, schedule: ScaleShape[]): PolicyNeeds {
      plans.delete(layer);
      const cap = budget(layer, si);
      if (cap === null || cacheLen <= cap) return none;
      const s = schedule[si];
      const plan = planWindow(s.h, s.w, cacheLen, o.windowSize, o.queryMode === 'paper' ? 'grid' : 'official');
      plans.set(layer, plan);
      return { windowQueries: plan.queries, queryMode: o.queryMode, colsum: false };
    },
    select(ctx: SelectContext): Selection | null {
      const plan = plans.get(ctx.layer);
      const cap = budget(ctx.layer, ctx.scaleIndex);
      if (!plan || cap === null || ctx.cacheLen <= cap) return null;
      if (!ctx.windowScores) throw new Error(`${name}: the engine did not provide window scores`);
      const W = plan.keys.length;
      const N = ctx.cacheLen;
      const lists: Int32Array[] = [];
      for (let rh = 0; rh < ctx.rows * ctx.heads; rh++) {
        const scores = ctx.windowScores.subarray(rh * W * N, (rh + 1) * W * N);
        lists.push(selectKeep(scores, plan, N, { capacity: cap, kernel: o.kernel, pooling: o.pooling }) ?? Int32Array.from({ length: N }, (_, i) => i));
      }
      return stack(lists);
    },
  };
}
