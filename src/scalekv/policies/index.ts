/**
 * One entry point for every KV policy, so runs choose by name: full, scalekv, snapkv, h2o, local,
 * amskv. ScaleKV takes its drafters and budgets from a profile (ours or an official table converted);
 * when a ratio other than the profile's is asked for, budgets are re-derived for that ratio from the
 * same drafter/refiner classification. The baselines get the same token budget spread uniformly.
 */
import type { KvPolicy } from '../../kvcache/policy';
import { ScaleKVError } from '../../shared/errors';
import type { PolicySpec, ScaleKVProfile } from '../../shared/types';
import { allocateBudgets } from '../budgets';
import { checkProfileMatches, DEFAULT_SETTINGS } from '../profile';
import { amskvPolicy } from './amskv';
import type { PolicyModel } from './common';
import { fullPolicy } from './full';
import { h2oPolicy } from './h2o';
import { localPolicy } from './local';
import { windowedPolicy } from './windowed';

export type { PolicyModel } from './common';

type Budget = (layer: number, si: number) => number | null;

function validateSpec(spec: PolicySpec): void {
  const bad = (m: string) => {
    throw new ScaleKVError('E_BUDGET_INVALID', m);
  };
  if (spec.windowSize !== undefined && (!Number.isInteger(spec.windowSize) || spec.windowSize <= 0)) bad(`Window size must be a positive integer, got ${spec.windowSize}.`);
  if (spec.poolingKernel !== undefined && (!Number.isInteger(spec.poolingKernel) || spec.poolingKernel <= 0 || spec.poolingKernel % 2 === 0)) {
    bad(`The pooling kernel must be a positive odd integer, got ${spec.poolingKernel}.`);
  }
  if (spec.ratio !== undefined && !(spec.ratio > 0 && spec.ratio <= 1)) bad(`The ratio must be within (0, 1], got ${spec.ratio}.`);
}

/** budgets of a profile, re-derived for another ratio from the same classification when asked */
function profileBudget(p: ScaleKVProfile, ratio: number | undefined, model: PolicyModel): Budget {
  let drafter = p.scales.map((s) => s.drafterBudget);
  let refiner = p.scales.map((s) => s.refinerBudget);
  let compressed = p.scales.map((s) => s.compressed);
  if (ratio !== undefined && Math.abs(ratio - p.settings.targetRatio) > 1e-9) {
    const plan = allocateBudgets(model.schedule, model.depth, { ...DEFAULT_SETTINGS, ...p.settings, targetRatio: ratio });
    drafter = plan.scales.map((s) => s.drafterBudget);
    refiner = plan.scales.map((s) => s.refinerBudget);
    compressed = plan.scales.map((s) => s.compressed);
  }
  return (l, si) => (compressed[si] ? (p.scales[si].roles[l] === 'drafter' ? drafter[si] : refiner[si]) : null);
}

function uniformBudget(ratio: number, model: PolicyModel, windowSize: number): Budget {
  const plan = allocateBudgets(model.schedule, model.depth, { ...DEFAULT_SETTINGS, targetRatio: ratio, windowSize });
  return (_l, si) => (plan.scales[si].compressed ? plan.scales[si].uniformBudget : null);
}

export function createPolicy(spec: PolicySpec, model: PolicyModel): KvPolicy {
  validateSpec(spec);
  const windowSize = spec.windowSize ?? 16;
  const opts = { windowSize, kernel: spec.poolingKernel ?? 5, pooling: spec.pooling ?? 'maxpool', queryMode: spec.queryMode ?? 'code' } as const;
  const ratio = spec.ratio ?? 0.1;
  const ref = { name: `the ${model.depth}-layer model`, depth: model.depth, numHeads: model.numHeads, headDim: model.headDim, schedule: model.schedule };
  switch (spec.name) {
    case 'full':
      return fullPolicy();
    case 'scalekv': {
      const p = spec.profile;
      if (!p) {
        throw new ScaleKVError('E_PROFILE_INVALID', 'ScaleKV needs a profile: run "ScaleKV: Calibrate" (or `scalekv calibrate`), or import an official budget table.');
      }
      checkProfileMatches(p, ref, 'The ScaleKV profile');
      return windowedPolicy('scalekv', profileBudget(p, spec.ratio, model), { ...opts, windowSize: spec.windowSize ?? p.settings.windowSize, kernel: spec.poolingKernel ?? p.settings.poolingKernel });
    }
    case 'snapkv':
      return windowedPolicy('snapkv', uniformBudget(ratio, model, windowSize), opts);
    case 'h2o':
      return h2oPolicy(uniformBudget(ratio, model, windowSize));
    case 'local':
      return localPolicy(uniformBudget(ratio, model, windowSize));
    case 'amskv': {
      const condensed = (spec.condensedScales ?? 5) > 0 ? model.schedule.slice(0, spec.condensedScales ?? 5).reduce((a, s) => a + s.h * s.w, 0) : 0;
      const b = spec.profile ? profileBudget(spec.profile, spec.ratio, model) : uniformBudget(ratio, model, windowSize);
      return amskvPolicy(b, condensed);
    }
    default:
      throw new ScaleKVError('E_INVALID_REQUEST', `Unknown policy '${(spec as PolicySpec).name}'. Use full, scalekv, snapkv, h2o, local or amskv.`);
  }
}
