/**
 * The run specification a ScaleKV notebook cell holds (JSON):
 *   {"action": "generate", "prompts": ["..."], "seed": 0, "resolution": "0.25M", "policy": "scalekv", "ratio": 0.1}
 *   {"action": "calibrate", "prompts": [...], "ratio": 0.1, "resolution": "0.25M"}
 *   {"action": "compare", "prompts": ["..."], "policies": ["scalekv", "snapkv"], "ratio": 0.1}
 *   {"action": "evaluate", "prompts": [...] or "promptsFile": "held-out.txt", "policies": [...], "ratios": [0.04, 0.1, 0.2],
 *    "seeds": [0], "ablation": false, "budgetRules": ["official", "legacy"]}
 * Optional everywhere: "model" (path), "provider", "cfg", "tau", "aspect" (e.g. "1:1"), "profile" (path).
 */
import { parseAspect } from '../model/schedule';
import { candidatePolicies, checkBudgetRule, checkPolicyName, checkRatio } from '../engine/evaluatePlan';
import { DEFAULTS } from '../shared/defaults';
import { POLICY_NAMES, type BudgetRuleName, type PolicyName } from '../shared/types';

export interface CellSpec {
  action: 'generate' | 'calibrate' | 'compare' | 'evaluate';
  prompts: string[];
  seed: number;
  resolution: string;
  aspectRatio: number;
  policy: PolicyName;
  policies: PolicyName[];
  ratio: number;
  cfg: number;
  tau: number;
  model?: string;
  provider?: string;
  profile?: string;
  /** evaluate: every policy at every ratio, every prompt with every seed */
  evaluate?: { ratios: number[]; seeds: number[]; promptsFile?: string; ablation: boolean; budgetRules: BudgetRuleName[] };
}

export function parseCellSpec(
  text: string,
  defaults: { resolution: string; ratio: number; cfg: number; tau: number; policy: PolicyName },
): CellSpec {
  let x: Record<string, unknown>;
  try {
    x = JSON.parse(text) as typeof x;
  } catch (e) {
    throw new Error(
      `The cell is not a JSON run specification: ${(e as Error).message}. Example: {"action": "generate", "prompts": ["a red apple"], "policy": "scalekv"}`,
      { cause: e },
    );
  }
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new Error('The cell must hold a JSON object.');
  const action = (x.action ?? 'generate') as CellSpec['action'];
  if (!['generate', 'calibrate', 'compare', 'evaluate'].includes(action)) {
    throw new Error(`"action" must be generate, calibrate, compare or evaluate, not ${JSON.stringify(action)}.`);
  }
  const prompts = x.prompts ?? (typeof x.prompt === 'string' ? [x.prompt] : []);
  if (!Array.isArray(prompts) || prompts.some((p) => typeof p !== 'string' || !p.trim()))
    throw new Error('"prompts" must be a list of non-empty strings.');
  const promptsFile = typeof x.promptsFile === 'string' ? x.promptsFile : undefined;
  if (action !== 'calibrate' && prompts.length === 0 && !(action === 'evaluate' && promptsFile)) {
    throw new Error('"prompts" needs at least one prompt.');
  }
  const pol = (x.policy ?? defaults.policy) as PolicyName;
  if (!POLICY_NAMES.includes(pol)) throw new Error(`"policy" must be one of ${POLICY_NAMES.join(', ')}.`);
  const policies = (x.policies ?? (action === 'evaluate' ? candidatePolicies() : ['scalekv'])) as PolicyName[];
  if (!Array.isArray(policies) || policies.some((p) => !POLICY_NAMES.includes(p)))
    throw new Error(`"policies" must list names from ${POLICY_NAMES.join(', ')}.`);
  if (action === 'evaluate') policies.forEach(checkPolicyName);
  const list = <T>(k: string, d: T[], check: (v: unknown) => T): T[] => {
    const v = x[k] ?? d;
    if (!Array.isArray(v) || !v.length) throw new Error(`"${k}" must be a non-empty list.`);
    return v.map(check);
  };
  const num = (k: string, d: number) => {
    const v = x[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`"${k}" must be a number.`);
    return v;
  };
  const str = (k: string, d: string) => {
    const v = x[k] ?? d;
    if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`"${k}" must be a string.`);
    return String(v);
  };
  return {
    action,
    prompts: prompts as string[],
    seed: num('seed', DEFAULTS.seed),
    resolution: str('resolution', defaults.resolution),
    aspectRatio: parseAspect(str('aspect', DEFAULTS.aspect)),
    policy: pol,
    policies,
    ratio: num('ratio', defaults.ratio),
    cfg: num('cfg', defaults.cfg),
    tau: num('tau', defaults.tau),
    model: typeof x.model === 'string' ? x.model : undefined,
    provider: typeof x.provider === 'string' ? x.provider : undefined,
    profile: typeof x.profile === 'string' ? x.profile : undefined,
    evaluate:
      action === 'evaluate'
        ? {
            ratios: list<number>('ratios', x.ratio !== undefined ? [x.ratio as number] : [0.04, 0.1, 0.2], checkRatio),
            seeds: list<number>('seeds', [(x.seed as number) ?? 0], (v) => v as number),
            promptsFile,
            ablation: x.ablation === true,
            budgetRules: x.budgetRules === undefined ? [] : list<BudgetRuleName>('budgetRules', [], checkBudgetRule),
          }
        : undefined,
  };
}
