/**
 * One entry point for every KV policy: full, scalekv, snapkv, h2o, local, amskv, hack, heatkv.
 *
 * Fairness: every policy except 'full' holds at most the same memory for a ratio r: after every
 * compressed scale its layers together keep at most T = r x depth x (full cache after the
 * second-to-last scale) tokens per row and head (see budgets.ts). ScaleKV splits T into drafter and
 * refiner budgets; the baselines give every layer T / depth. ScaleKV uses its profile's budgets as
 * they are unless a different ratio is asked for, in which case budgets are re-derived for that ratio
 * from the same drafter/refiner roles.
 *
 * Engine protocol, per scale si and layer l (cacheLen = cached entries after appending the scale):
 *   const needs = policy.needs(l, si, cacheLen, schedule);
 *   run the layer; if needs.windowQueries, also compute, per (row, head), the logits of those query
 *   rows of the current scale against all cacheLen keys ([rows][heads][W][cacheLen], scaled as
 *   needs.queryMode says); if needs.colsum, the attention probabilities summed over the scale's queries;
 *   const sel = policy.select({ layer: l, scaleIndex: si, cacheLen, curLen, positions, windowScores, colsum, ... });
 *   sel === null keeps the cache; otherwise keep sel.keep ([rows][heads][perHead], ascending).
 * needs() and select() must be called in this order for the same layer and scale; reset() before
 * every generation.
 */
import { DEFAULTS } from '../../shared/defaults';
import type { KvPolicy } from '../../kvcache/policy';
import { ScaleKVError } from '../../shared/errors';
import { POLICY_NAMES, type BudgetRule, type PolicySpec, type ScaleKVProfile } from '../../shared/types';
import { allocateBudgets } from '../budgets';
import { checkRatio, uniformTokensPerLayer } from '../officialRule';
import { checkProfileMatches, DEFAULT_SETTINGS, officialScaleBudgets } from '../profile';
import { cumulativeTokens } from '../../model/schedule';
import { classifyHeads, hackBudget, hackPolicy } from './hack';
import { fittingSinkScales, heatkvBudget, heatkvPolicy } from './heatkv';
import type { WindowLayout } from '../tokenSelection';
import { amskvPolicy } from './amskv';
import type { Budget, PolicyModel } from './common';
import { fullPolicy } from './full';
import { h2oPolicy } from './h2o';
import { localPolicy } from './local';
import { windowedPolicy } from './windowed';

export type { Budget, PolicyModel } from './common';

export interface PolicyOptions {
  /** where the observation window sits; default 'official', or 'grid' when queryMode is 'paper' */
  windowLayout?: WindowLayout;
}

/** A policy plus how its budgets were set, for run records and the UI. */
export type CreatedPolicy = KvPolicy & { readonly budget: Budget; readonly note: string };

const DEFAULT_RATIO = DEFAULTS.ratio;
/** AMS-KV's condensed scales: the first five 1:1 scales, the 121 tokens ScaleKV never compresses either */
const DEFAULT_CONDENSED_SCALES = 5;

const bad = (m: string): never => {
  throw new ScaleKVError('E_BUDGET_INVALID', m);
};

function validateSpec(spec: PolicySpec): void {
  if (spec.windowSize !== undefined && (!Number.isInteger(spec.windowSize) || spec.windowSize <= 0))
    bad(`Window size must be a positive integer, got ${spec.windowSize}.`);
  if (
    spec.poolingKernel !== undefined &&
    (!Number.isInteger(spec.poolingKernel) || spec.poolingKernel <= 0 || spec.poolingKernel % 2 === 0)
  ) {
    bad(`The pooling kernel must be a positive odd integer, got ${spec.poolingKernel}.`);
  }
  if (spec.pooling !== undefined && spec.pooling !== 'maxpool' && spec.pooling !== 'avgpool')
    bad(`Pooling must be maxpool or avgpool, got ${spec.pooling}.`);
  if (!POLICY_NAMES.includes(spec.name)) {
    throw new ScaleKVError('E_INVALID_REQUEST', `Unknown policy '${spec.name}'. Valid policies: ${POLICY_NAMES.join(', ')}.`);
  }
  if (spec.ratio !== undefined) checkRatio(spec.ratio);
  if (spec.budgetRule !== undefined && spec.budgetRule !== 'official' && spec.budgetRule !== 'legacy')
    bad(`The budget rule must be official or legacy, got ${spec.budgetRule}.`);
  for (const f of ['hackContextualFraction', 'hackContextualShare'] as const) {
    const v = spec[f];
    if (v !== undefined && !(v >= 0 && v <= 1)) bad(`${f} must be within [0, 1], got ${v}.`);
  }
  if (spec.heatSinkScales !== undefined && (!Number.isInteger(spec.heatSinkScales) || spec.heatSinkScales < 0))
    bad(`heatSinkScales must be a whole number of scales, got ${spec.heatSinkScales}.`);
  for (const f of ['localScales', 'condensedScales'] as const) {
    const v = spec[f];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) bad(`${f} must be a whole number of scales, got ${v}.`);
  }
}

/**
 * One budget for every layer: B = ratio x the tokens before the last scale from the first scale whose
 * cache passes it (official), or the legacy allocation's average (floor(T / depth) past 121 tokens).
 */
function uniformBudget(ratio: number, model: PolicyModel, windowSize: number, rule: BudgetRule): Budget {
  if (rule === 'official') {
    const B = uniformTokensPerLayer(ratio, model.schedule);
    if (B < windowSize)
      bad(
        `A ${(ratio * 100).toFixed(2)}% budget is ${B} tokens per layer, less than the ${windowSize}-token observation window every layer must keep.`,
      );
    const cum = cumulativeTokens(model.schedule);
    return (_l, si) => (cum[si] > B ? B : null);
  }
  const plan = allocateBudgets(model.schedule, model.depth, { ...DEFAULT_SETTINGS, targetRatio: ratio, windowSize, draftersPerScale: 0 });
  return (_l, si) => (plan.scales[si].compressed ? plan.scales[si].uniformBudget : null);
}

/** the run's ratio where it differs from the profile's, whose budgets then get re-derived; else null */
function otherRatio(p: ScaleKVProfile, ratio: number | undefined): number | null {
  return ratio === undefined || Math.abs(ratio - p.settings.targetRatio) < 1e-9 ? null : ratio;
}

/** A profile's budgets, or budgets re-derived for another ratio from its roles by its rule (or `rule`). */
function profileBudget(
  p: ScaleKVProfile,
  ratio: number | undefined,
  model: PolicyModel,
  windowSize: number,
  rule?: BudgetRule,
): { budget: Budget; note: string } {
  const isDrafter = (l: number, si: number) => p.scales[si].roles[l] === 'drafter';
  const other = otherRatio(p, ratio);
  if (other === null) {
    return {
      budget: (l, si) => (p.scales[si].compressed ? (isDrafter(l, si) ? p.scales[si].drafterBudget : p.scales[si].refinerBudget) : null),
      note: `budgets of the profile (${p.origin}, target ratio ${p.settings.targetRatio}, ${p.settings.budgetRule ?? 'legacy'} rule)`,
    };
  }
  if ((rule ?? p.settings.budgetRule ?? 'legacy') === 'official') {
    const o = officialScaleBudgets(
      { name: p.model.name, ...model },
      p.scales.map((s) => s.roles),
      { ...DEFAULT_SETTINGS, ...p.settings, targetRatio: other, tokensPerLayer: undefined, windowSize },
    );
    return {
      budget: (l, si) => (o.scales[si].compressed ? (isDrafter(l, si) ? o.scales[si].drafterBudget : o.scales[si].refinerBudget) : null),
      note: `budgets re-derived for ratio ${other} from the profile's roles by the official rule (B = ${o.tokensPerLayer} tokens per layer)`,
    };
  }
  // size for the scale with the most drafters so no scale can exceed T
  const nd = Math.max(0, ...p.scales.map((s) => s.roles.filter((r) => r === 'drafter').length));
  const plan = allocateBudgets(model.schedule, model.depth, {
    ...DEFAULT_SETTINGS,
    ...p.settings,
    targetRatio: other,
    windowSize,
    draftersPerScale: nd,
  });
  return {
    budget: (l, si) =>
      plan.scales[si].compressed ? (isDrafter(l, si) ? plan.scales[si].drafterBudget : plan.scales[si].refinerBudget) : null,
    note: `budgets re-derived for ratio ${other} from the profile's roles (${nd} drafters per scale at most)`,
  };
}

/**
 * The profile as a run applied it, for the run record and the views: where the run's ratio differs
 * from the profile's, each scale's budgets are the ones the policy's budget function gave its layers.
 */
export function appliedProfile(p: ScaleKVProfile, budget: Budget, ratio: number | undefined): ScaleKVProfile {
  const other = otherRatio(p, ratio);
  if (other === null) return p;
  return {
    ...p,
    settings: { ...p.settings, targetRatio: other },
    origin: `${p.origin}, budgets re-derived for ratio ${other}`,
    scales: p.scales.map((s, si) => {
      const of = (role: string) => {
        const l = s.roles.indexOf(role as (typeof s.roles)[number]);
        return l < 0 ? null : budget(l, si);
      };
      const d = of('drafter');
      const r = of('refiner');
      return { ...s, compressed: (d ?? r) !== null, drafterBudget: d ?? s.drafterBudget, refinerBudget: r ?? s.refinerBudget };
    }),
  };
}

function checkBudgets(budget: Budget, model: PolicyModel, windowSize: number, what: string): void {
  for (let si = 0; si < model.schedule.length; si++) {
    for (let l = 0; l < model.depth; l++) {
      const b = budget(l, si);
      if (b !== null && (!Number.isInteger(b) || b < windowSize))
        bad(`${what}: layer ${l} at scale ${si} has a budget of ${b} tokens, less than the ${windowSize}-token observation window.`);
    }
  }
}

function requireProfile(spec: PolicySpec, model: PolicyModel): ScaleKVProfile {
  const p = spec.profile;
  if (!p)
    throw new ScaleKVError(
      'E_PROFILE_INVALID',
      `${spec.name} needs a profile: run "ScaleKV: Calibrate" (or \`scalekv calibrate\`), or import an official budget table.`,
    );
  checkProfileMatches(p, { name: `the loaded ${model.depth}-layer model`, ...model }, 'The ScaleKV profile');
  return p;
}

export function createPolicy(spec: PolicySpec, model: PolicyModel, options: PolicyOptions = {}): CreatedPolicy {
  validateSpec(spec);
  const queryMode = spec.queryMode ?? spec.profile?.settings.queryMode ?? 'code';
  const windowSize = spec.windowSize ?? spec.profile?.settings.windowSize ?? DEFAULT_SETTINGS.windowSize;
  const win = {
    windowSize,
    kernel: spec.poolingKernel ?? spec.profile?.settings.poolingKernel ?? DEFAULT_SETTINGS.poolingKernel,
    pooling: spec.pooling ?? spec.profile?.settings.pooling ?? DEFAULT_SETTINGS.pooling,
    queryMode,
    layout: options.windowLayout ?? (queryMode === 'paper' ? 'grid' : 'official'),
  } as const;
  const ratio = spec.ratio ?? DEFAULT_RATIO;
  const rule: BudgetRule = spec.budgetRule ?? 'legacy';
  const make = (p: KvPolicy, budget: Budget, note: string): CreatedPolicy => Object.assign(p, { budget, note });
  switch (spec.name) {
    case 'full':
      return make(fullPolicy(), () => null, 'full cache');
    case 'scalekv': {
      const p = requireProfile(spec, model);
      const { budget, note } = profileBudget(p, spec.ratio, model, windowSize, spec.budgetRule);
      checkBudgets(budget, model, windowSize, 'ScaleKV');
      return make(windowedPolicy('scalekv', budget, win), budget, note);
    }
    case 'snapkv': {
      const budget = uniformBudget(ratio, model, windowSize, rule);
      return make(windowedPolicy('snapkv', budget, win), budget, `uniform budget for ratio ${ratio}`);
    }
    case 'h2o': {
      const budget = uniformBudget(ratio, model, windowSize, rule);
      return make(h2oPolicy(budget), budget, `uniform budget for ratio ${ratio}`);
    }
    case 'local': {
      const budget = uniformBudget(ratio, model, windowSize, rule);
      return make(localPolicy(budget, spec.localScales ?? Infinity), budget, `uniform budget for ratio ${ratio}, most recent whole scales`);
    }
    case 'amskv': {
      const n = spec.condensedScales ?? DEFAULT_CONDENSED_SCALES;
      const condensed = model.schedule.slice(0, n).reduce((a, s) => a + s.h * s.w, 0);
      if (spec.profile) {
        const p = requireProfile(spec, model);
        const { budget, note } = profileBudget(p, spec.ratio ?? p.settings.targetRatio, model, windowSize, spec.budgetRule);
        return make(amskvPolicy(budget, condensed), budget, `${note}; the profile's drafters stand in for AMS-KV's cache-demanding layers`);
      }
      const budget = uniformBudget(ratio, model, windowSize, rule);
      return make(
        amskvPolicy(budget, condensed),
        budget,
        `uniform budget for ratio ${ratio}: no calibration, so no layer is treated as cache-demanding`,
      );
    }
    case 'hack': {
      const p = requireProfile(spec, model);
      if (!p.hack)
        throw new ScaleKVError(
          'E_PROFILE_INVALID',
          `HACK needs per-head statistics from a calibration; the profile (${p.origin}) has none. Calibrate again (ScaleKV: Calibrate, or scalekv calibrate).`,
        );
      const contextual = classifyHeads(p.hack, spec.hackContextualFraction);
      const budget = hackBudget(uniformBudget(ratio, model, windowSize, rule), contextual, spec.hackContextualShare);
      const n = contextual.flat().filter(Boolean).length;
      checkBudgets(budget, model, 1, 'HACK');
      return make(
        hackPolicy(budget, contextual),
        budget,
        `uniform total for ratio ${ratio}; ${n} of ${model.depth * model.numHeads} heads contextual (from ${p.origin})`,
      );
    }
    case 'heatkv': {
      const p = requireProfile(spec, model);
      if (!p.heat)
        throw new ScaleKVError(
          'E_PROFILE_INVALID',
          `HeatKV needs S-CAS scores from a calibration; the profile (${p.origin}) has none. Calibrate again (ScaleKV: Calibrate, or scalekv calibrate).`,
        );
      const uniform = uniformBudget(ratio, model, windowSize, rule);
      const smallest = Math.min(...model.schedule.map((_, si) => uniform(0, si) ?? Infinity));
      const sinks = spec.heatSinkScales ?? fittingSinkScales(model.schedule, smallest);
      const budget = heatkvBudget(uniform, p.heat, model.schedule, sinks);
      checkBudgets(budget, model, 1, 'HeatKV');
      return make(
        heatkvPolicy(budget, p.heat, model.schedule, sinks),
        budget,
        `uniform total for ratio ${ratio}; per-layer lengths from S-CAS (${p.origin})`,
      );
    }
    default:
      throw new ScaleKVError('E_INVALID_REQUEST', `Unknown policy '${spec.name}'. Valid policies: ${POLICY_NAMES.join(', ')}.`);
  }
}
