/**
 * Budget allocation from a target memory ratio. The memory a ScaleKV run needs is set by the cache
 * the largest (last) scale attends to: the caches kept after the second-to-last scale. A ratio r
 * therefore gives a token budget T = r x depth x (tokens cached after the second-to-last scale), and
 * after every compressed scale the layers together keep at most T tokens (per row and head):
 *  - refiners get a budget that starts at the initial refiner budget (600 tokens in the paper) and
 *    decays geometrically with each compressed scale,
 *  - drafters share what the refiners leave, capped at the tokens that exist,
 *  - the earliest scales (the first `uncompressedTokens` tokens, 121 = 1+4+16+36+64) are never evicted.
 * Baselines without the layer split get the same T spread uniformly, so comparisons are fair.
 * With the official 2B 10% table the same measure gives 0.101 (see the tests).
 */
import { ScaleKVError } from '../shared/errors';
import type { ScaleShape } from '../shared/types';
import { cumulativeTokens } from '../model/schedule';

export interface BudgetSettings {
  targetRatio: number;
  windowSize: number;
  uncompressedTokens: number;
  draftersPerScale: number;
  refinerInitialBudget: number;
  refinerDecay: number;
}

export interface ScaleBudget {
  scaleIndex: number;
  compressed: boolean;
  drafterBudget: number;
  refinerBudget: number;
  /** for policies without drafters/refiners */
  uniformBudget: number;
}

export interface BudgetPlan {
  /** T: tokens (per row and head, summed over layers) kept after any compressed scale */
  memoryTokens: number;
  /** the full cache the last scale would attend to, in the same unit */
  fullTokensAtLastAttention: number;
  scales: ScaleBudget[];
}

export function allocateBudgets(schedule: ScaleShape[], depth: number, s: BudgetSettings): BudgetPlan {
  const bad = (m: string): never => {
    throw new ScaleKVError('E_BUDGET_INVALID', m);
  };
  if (!(s.targetRatio > 0 && s.targetRatio <= 1)) bad(`The target ratio must be within (0, 1], got ${s.targetRatio}.`);
  if (schedule.length < 2) bad('A schedule of at least two scales is needed for compression.');
  const nd = Math.max(0, Math.min(depth, Math.round(s.draftersPerScale)));
  const cum = cumulativeTokens(schedule);
  const ref = cum[cum.length - 2];
  const T = Math.floor(s.targetRatio * depth * ref);
  const W = s.windowSize;
  if (T < depth * W) {
    bad(`A ${(s.targetRatio * 100).toFixed(1)}% budget is ${T} tokens over ${depth} layers, less than the ${W}-token observation window every layer must keep (${depth * W}). Use a ratio of at least ${((depth * W) / (depth * ref)).toFixed(4)}.`);
  }
  let k = 0;
  const scales = schedule.map((_, si) => {
    const compressed = cum[si] > s.uncompressedTokens;
    if (!compressed) return { scaleIndex: si, compressed, drafterBudget: cum[si], refinerBudget: cum[si], uniformBudget: cum[si] };
    let r = Math.round(s.refinerInitialBudget * Math.pow(s.refinerDecay, k++));
    const nr = depth - nd;
    if (nr > 0) r = Math.min(r, Math.floor((T - nd * W) / nr));
    r = Math.max(W, Math.min(r, cum[si]));
    let d = nd > 0 ? Math.min(cum[si], Math.floor((T - nr * r) / nd)) : r;
    if (d < r) d = r;
    const u = Math.max(W, Math.min(cum[si], Math.floor(T / depth)));
    return { scaleIndex: si, compressed, drafterBudget: d, refinerBudget: r, uniformBudget: u };
  });
  return { memoryTokens: T, fullTokensAtLastAttention: depth * ref, scales };
}
