/**
 * Observation-window selection with a per-layer, per-scale budget. ScaleKV (drafter and refiner
 * budgets) and SnapKV (one budget for every layer) differ only in the budget function.
 */
import type { KvPolicy, PolicyNeeds, SelectContext, Selection } from '../../kvcache/policy';
import { ScaleKVError } from '../../shared/errors';
import type { PolicyName, ScaleShape, WindowQueryMode } from '../../shared/types';
import { planWindow, selectKeep, type WindowLayout, type WindowPlan } from '../tokenSelection';
import { capToApply, NOTHING_NEEDED, stack, type Budget } from './common';

export interface WindowedOptions {
  windowSize: number;
  kernel: number;
  pooling: 'maxpool' | 'avgpool';
  queryMode: WindowQueryMode;
  layout: WindowLayout;
}

export function windowedPolicy(name: PolicyName, budget: Budget, o: WindowedOptions): KvPolicy {
  // the plan made in needs() must be the one select() uses: the engine scored exactly those queries
  const plans = new Map<number, { si: number; cacheLen: number; plan: WindowPlan }>();
  return {
    name,
    reset: () => plans.clear(),
    staticSelection(layer, si, cacheLen, schedule) {
      const cap = capToApply(budget, layer, si, cacheLen);
      if (cap === null) return null;
      const plan = planWindow({ scaleIndex: si, shape: schedule[si], keyLen: cacheLen, windowSize: o.windowSize, layout: o.layout });
      // a budget below the window keeps more than the budget (the official code's warning case); average
      // pooling lets masked window keys tie with real ones: both stay on the layer-by-layer path
      if (cap < plan.keys.length || o.pooling !== 'maxpool') return 'layerwise';
      return {
        capacity: cap,
        windowKeys: plan.keys,
        windowQueries: plan.queries,
        kernel: o.kernel,
        pooling: o.pooling,
        queryMode: o.queryMode,
      };
    },
    needs(layer: number, si: number, cacheLen: number, schedule: ScaleShape[]): PolicyNeeds {
      plans.delete(layer);
      if (capToApply(budget, layer, si, cacheLen) === null) return NOTHING_NEEDED(o.queryMode);
      const plan = planWindow({ scaleIndex: si, shape: schedule[si], keyLen: cacheLen, windowSize: o.windowSize, layout: o.layout });
      plans.set(layer, { si, cacheLen, plan });
      return { windowQueries: plan.queries, queryMode: o.queryMode, colsum: false };
    },
    select(ctx: SelectContext): Selection | null {
      const cap = capToApply(budget, ctx.layer, ctx.scaleIndex, ctx.cacheLen);
      if (cap === null) return null;
      const p = plans.get(ctx.layer);
      if (!p || p.si !== ctx.scaleIndex || p.cacheLen !== ctx.cacheLen) {
        throw new ScaleKVError(
          'E_INTERNAL',
          `${name}: select() for layer ${ctx.layer} at scale ${ctx.scaleIndex} without a matching needs() call.`,
        );
      }
      if (!ctx.windowScores)
        throw new ScaleKVError(
          'E_INTERNAL',
          `${name}: the engine did not provide window scores for layer ${ctx.layer} at scale ${ctx.scaleIndex}.`,
        );
      const Wq = p.plan.queries.length;
      const N = ctx.cacheLen;
      if (ctx.windowScores.length !== ctx.rows * ctx.heads * Wq * N) {
        throw new ScaleKVError(
          'E_INTERNAL',
          `${name}: window scores hold ${ctx.windowScores.length} values, expected ${ctx.rows}x${ctx.heads}x${Wq}x${N}.`,
        );
      }
      const lists: Int32Array[] = [];
      for (let rh = 0; rh < ctx.rows * ctx.heads; rh++) {
        const scores = ctx.windowScores.subarray(rh * Wq * N, (rh + 1) * Wq * N);
        lists.push(selectKeep(scores, p.plan, N, { capacity: cap, kernel: o.kernel, pooling: o.pooling })!);
      }
      return stack(lists);
    },
  };
}
