/**
 * A profile for a schedule nobody calibrated (another aspect ratio or resolution), derived on the fly
 * from the nearest calibrated one: drafter roles and per-head statistics carried over by scale index,
 * budgets for the run's ratio by the official rule on the run's own schedule.
 *
 * Why derive instead of calibrating once: calibration takes minutes (10 prompts through the full cache)
 * and would stall the first generation at a new size; what it measures is a property of each layer at
 * each step of the coarse-to-fine schedule, and every aspect-ratio template of a resolution has the same
 * number of steps, with token maps of nearly the same size (1:1 and 16:9 at 1M: 6,425 vs 6,407 tokens
 * before the last scale). The budgets, which do depend on the token counts, are recomputed exactly.
 */
import { cumulativeTokens } from '../model/schedule';
import { ScaleKVError } from '../shared/errors';
import type { LayerRole, ProfileModelRef, ScaleKVProfile } from '../shared/types';
import { createProfile, DEFAULT_SETTINGS } from './profile';

const describe = (m: ProfileModelRef) => `${m.schedule.length} scales to ${m.schedule.at(-1)!.h}x${m.schedule.at(-1)!.w}`;

/** the source scale whose role a target scale takes: same index for equally long schedules, else proportional */
function sourceIndex(si: number, n: number, nSrc: number): number {
  return n === nSrc ? si : Math.round((si * (nSrc - 1)) / Math.max(1, n - 1));
}

/** nearest: same number of scales first, then the closest count of tokens before the last scale */
function nearest(candidates: ScaleKVProfile[], model: ProfileModelRef): ScaleKVProfile {
  const ref = (m: ProfileModelRef) => cumulativeTokens(m.schedule).at(-2) ?? 0;
  const cost = (p: ScaleKVProfile) => [Math.abs(p.model.schedule.length - model.schedule.length), Math.abs(ref(p.model) - ref(model))];
  return [...candidates].sort((a, b) => {
    const [a0, a1] = cost(a);
    const [b0, b1] = cost(b);
    return a0 - b0 || a1 - b1;
  })[0];
}

export function derivedProfile(
  candidates: ScaleKVProfile[],
  model: ProfileModelRef,
  ratio: number,
  windowSize = DEFAULT_SETTINGS.windowSize,
): { profile: ScaleKVProfile; notice: string } {
  if (!candidates.length)
    throw new ScaleKVError(
      'E_PROFILE_MODEL_MISMATCH',
      'No calibrated profile to derive one from; calibrate one (ScaleKV: Calibrate, or scalekv calibrate).',
    );
  const src = nearest(candidates, model);
  const n = model.schedule.length;
  const nSrc = src.scales.length;
  const roles: LayerRole[][] = model.schedule.map((_, si) => [...src.scales[sourceIndex(si, n, nSrc)].roles]);
  const heat = src.heat && {
    scas: src.heat.scas.map((hs) => hs.map((ss) => model.schedule.map((_, si) => ss[sourceIndex(si, n, nSrc)] ?? 0))),
  };
  // B and the base capacity follow from the ratio on this schedule, not the source's
  const { tokensPerLayer: _b, baseCapacity: _c, ...kept } = src.settings;
  const profile = createProfile({
    model,
    settings: { ...kept, targetRatio: ratio, windowSize, budgetRule: 'official' },
    roles,
    hack: src.hack,
    heat,
    origin: `derived from the profile for ${describe(src.model)} (${src.origin}): its drafter roles, budgets for ratio ${ratio} by the official rule`,
  });
  const notice =
    `No ScaleKV profile was calibrated for this run's ${describe(model)}; using one derived from the profile for ${describe(src.model)} ` +
    `(its drafter roles, budgets for ratio ${ratio} by the official rule on this schedule). ` +
    'For a profile measured at this size, calibrate with the same resolution and aspect ratio.';
  return { profile, notice };
}
