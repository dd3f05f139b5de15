/**
 * A profile with a fixed classification (the first `drafters` layers draft at every compressed scale)
 * and budgets allocated for a ratio: for benchmarks and stress runs on random weights, where there is
 * nothing meaningful to calibrate and time and memory depend only on the budgets.
 */
import type { LayerRole, ProfileModelRef, ScaleKVProfile } from '../shared/types';
import { createProfile } from './profile';

export function syntheticProfile(
  model: ProfileModelRef,
  ratio: number,
  drafters = Math.max(1, Math.round(model.depth / 16)),
): ScaleKVProfile {
  const nd = Math.min(drafters, model.depth);
  const roles = model.schedule.map(() => Array.from({ length: model.depth }, (_, l): LayerRole => (l < nd ? 'drafter' : 'refiner')));
  return createProfile({ model, settings: { targetRatio: ratio, draftersPerScale: nd }, roles, origin: 'synthetic' });
}
