/**
 * `scalekv evaluate` flags -> an EvaluateRequest, checked completely before the engine starts: the
 * prompts file (size, UTF-8, count), ratios, policy names, budget rules, seeds and resolution.
 */
import { resolve } from 'node:path';
import { candidatePolicies, checkBudgetRule, checkPolicyName, checkRatio, validateEvaluateRequest } from '../engine/evaluatePlan';
import { readPromptsFile } from '../engine/prompts';
import { parseAspect } from '../model/schedule';
import { ScaleKVError } from '../shared/errors';
import { DEFAULTS } from '../shared/defaults';
import type { EvaluateRequest, ProviderSetting, WindowQueryMode } from '../shared/types';
import { list, num, str, type ParsedArgs } from './args';

const numbers = (a: ParsedArgs, name: string): number[] =>
  list(a, name).map((v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new ScaleKVError('E_INVALID_REQUEST', `--${name} must be a number, got '${v}'.`);
    return n;
  });

export function evaluateRequestFromArgs(a: ParsedArgs): EvaluateRequest {
  const file = str(a, 'prompts-file');
  const prompts = file ? readPromptsFile(resolve(file)) : list(a, 'prompt');
  if (!prompts.length) {
    throw new ScaleKVError('E_INVALID_REQUEST', 'evaluate needs prompts: --prompts-file F (one per line) or --prompt TEXT.');
  }
  const ratios = numbers(a, 'ratio').map(checkRatio);
  const policies = list(a, 'policy').map(checkPolicyName);
  const seeds = numbers(a, 'seed');
  const calFile = str(a, 'calibration-prompts-file');
  // one profile serves every ratio; several form a set, each row taking the one made for its ratio and rule
  const profiles = list(a, 'profile').map((p) => resolve(p));
  return validateEvaluateRequest({
    modelPath: str(a, 'model') ? resolve(str(a, 'model')!) : undefined,
    prompts,
    seeds: seeds.length ? seeds : [0],
    policies: policies.length ? policies : candidatePolicies(),
    ratios: ratios.length ? ratios : [0.04, 0.1, 0.2],
    aspectRatio: parseAspect(str(a, 'aspect', '1:1')!),
    resolution: str(a, 'resolution', DEFAULTS.resolution)!,
    cfg: num(a, 'cfg', 3),
    tau: num(a, 'tau', 1),
    topK: num(a, 'top-k', 900),
    topP: num(a, 'top-p', 0.97),
    provider: str(a, 'provider', 'auto') as ProviderSetting,
    outDir: resolve(str(a, 'out', 'evaluation')!),
    profilePath: profiles.length === 1 ? profiles[0] : undefined,
    ...(profiles.length > 1 && { profileSet: profiles }),
    calibrate: str(a, 'calibrate') === 'true',
    calibrationPrompts: calFile ? readPromptsFile(resolve(calFile)) : undefined,
    budgetRules: list(a, 'budget-rule').map(checkBudgetRule),
    ablation: str(a, 'ablation') === 'true',
    windowSize: str(a, 'window') ? num(a, 'window', 16) : undefined,
    poolingKernel: str(a, 'kernel') ? num(a, 'kernel', 5) : undefined,
    queryMode: str(a, 'query-mode') as WindowQueryMode | undefined,
    keepRuns: str(a, 'keep-runs') === 'true',
    progressive: str(a, 'progressive') === 'true',
  });
}
