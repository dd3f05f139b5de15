/**
 * A profile with a fixed classification (the first `drafters` layers draft at every compressed scale)
 * and budgets allocated for a ratio: for benchmarks and stress runs on random weights, where there is
 * nothing meaningful to calibrate and time and memory depend only on the budgets.
 */
import { cumulativeTokens } from '../model/schedule';
import type { ProfileModelRef, ScaleKVProfile } from '../shared/types';
import { allocateBudgets } from './budgets';
import { DEFAULT_SETTINGS } from './profile';

export function syntheticProfile(model: ProfileModelRef, ratio: number, drafters = Math.max(1, Math.round(model.depth / 16))): ScaleKVProfile {
  const settings = { ...DEFAULT_SETTINGS, targetRatio: ratio, draftersPerScale: drafters };
  const plan = allocateBudgets(model.schedule, model.depth, settings);
  const cum = cumulativeTokens(model.schedule);
  return {
    format: 'scalekv-profile',
    version: 1,
    createdAt: new Date().toISOString(),
    model,
    settings,
    scales: model.schedule.map((shape, si) => ({
      scaleIndex: si,
      shape,
      tokensBefore: si ? cum[si - 1] : 0,
      cumulativeTokens: cum[si],
      compressed: plan.scales[si].compressed,
      drafterBudget: plan.scales[si].drafterBudget,
      refinerBudget: plan.scales[si].refinerBudget,
      roles: Array.from({ length: model.depth }, (_, l) => (l < drafters ? 'drafter' : 'refiner')),
    })),
    origin: 'synthetic',
  };
}
