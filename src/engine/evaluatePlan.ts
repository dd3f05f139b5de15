/**
 * What an evaluation will run, checked before anything runs: the request's prompts, seeds, ratios,
 * policy names (any policy registered in POLICY_NAMES), budget rules and ablation, and the rows that
 * follow from them: every policy at every ratio, once per budget rule, and ScaleKV once per ASI mode
 * in ablation mode.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import {
  ABLATION_ASI_MODES,
  BUDGET_RULE_NAMES,
  POLICY_NAMES,
  type AsiModeName,
  type BudgetRuleName,
  type EvaluateRequest,
  type PolicyName,
} from '../shared/types';
import { MAX_PROMPTS } from './prompts';
import { validateSampling } from './validateRequest';

export interface PlannedRow {
  key: string;
  policy: PolicyName;
  label: string;
  ratio: number;
  budgetRule?: BudgetRuleName;
  asiMode?: AsiModeName;
}

const bad = (m: string): never => {
  throw new ScaleKVError('E_INVALID_REQUEST', m);
};

/** the candidates: every registered policy but the full cache, which is the reference */
export const candidatePolicies = (): PolicyName[] => POLICY_NAMES.filter((p) => p !== 'full');

export function checkRatio(r: unknown): number {
  if (typeof r !== 'number' || !(r > 0 && r <= 1)) {
    bad(`A ratio must be within (0, 1] (the fraction of the full KV cache to keep, e.g. 0.1 for 10%), got ${String(r)}.`);
  }
  return r as number;
}

export function checkPolicyName(p: unknown): PolicyName {
  const valid = `Valid policies: ${candidatePolicies().join(', ')}.`;
  if (p === 'full') bad(`'full' is the reference every row is measured against, not a candidate. ${valid}`);
  if (typeof p !== 'string' || !(POLICY_NAMES as readonly string[]).includes(p)) bad(`Unknown policy '${String(p)}'. ${valid}`);
  return p as PolicyName;
}

export function checkBudgetRule(r: unknown): BudgetRuleName {
  if (!(BUDGET_RULE_NAMES as readonly unknown[]).includes(r)) {
    bad(`Unknown budget rule '${String(r)}'. Valid rules: ${BUDGET_RULE_NAMES.join(', ')}.`);
  }
  return r as BudgetRuleName;
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

/** The request with duplicates removed; throws E_INVALID_REQUEST naming the first bad field. */
export function validateEvaluateRequest(req: EvaluateRequest): EvaluateRequest {
  if (!Array.isArray(req.prompts) || !req.prompts.length) bad('An evaluation needs at least one prompt.');
  if (req.prompts.length > MAX_PROMPTS) bad(`An evaluation takes at most ${MAX_PROMPTS} prompts, got ${req.prompts.length}.`);
  const blank = req.prompts.findIndex((p) => typeof p !== 'string' || !p.trim());
  if (blank >= 0) bad(`Prompt ${blank + 1} is empty; prompts must be non-empty text.`);
  if (!Array.isArray(req.seeds) || !req.seeds.length) bad('An evaluation needs at least one seed.');
  if (!Array.isArray(req.ratios) || !req.ratios.length) bad('An evaluation needs at least one ratio (e.g. 0.04, 0.1, 0.2).');
  req.ratios.forEach(checkRatio);
  if (!Array.isArray(req.policies) || !req.policies.length) {
    bad(`An evaluation needs at least one policy. Valid policies: ${candidatePolicies().join(', ')}.`);
  }
  req.policies.forEach(checkPolicyName);
  (req.budgetRules ?? []).forEach(checkBudgetRule);
  for (const seed of req.seeds) validateSampling({ ...req, seed });
  if (req.ablation && !req.policies.includes('scalekv')) {
    bad('The ablation compares ScaleKV calibrated with each ASI variant: include --policy scalekv.');
  }
  if (req.ablation && (req.profilePath || req.profileSet?.length)) {
    bad('The ablation calibrates one profile per ASI variant; it cannot use a given --profile.');
  }
  if (req.profilePath && req.profileSet?.length) bad('Give either one profile for every ratio or a profile set, not both.');
  if (req.calibrationPrompts !== undefined) {
    const cal = req.calibrationPrompts;
    if (!Array.isArray(cal) || cal.some((p) => typeof p !== 'string' || !p.trim())) bad('Calibration prompts must be non-empty text.');
  }
  return {
    ...req,
    prompts: uniq(req.prompts),
    seeds: uniq(req.seeds),
    ratios: uniq(req.ratios),
    policies: uniq(req.policies),
    budgetRules: uniq(req.budgetRules ?? []),
    ...(req.profileSet && { profileSet: uniq(req.profileSet) }),
  };
}

export const rowKey = (policy: string, ratio: number, rule?: string, mode?: string) => `${policy}|${ratio}|${rule ?? '-'}|${mode ?? '-'}`;

export function rowLabel(policy: string, rule?: string, mode?: string): string {
  return `${policy}${mode ? ` (ASI ${mode})` : ''}${rule ? ` [${rule} rule]` : ''}`;
}

export function planRows(req: EvaluateRequest): PlannedRow[] {
  const rules: (BudgetRuleName | undefined)[] = req.budgetRules?.length ? req.budgetRules : [undefined];
  const rows: PlannedRow[] = [];
  for (const budgetRule of rules) {
    for (const policy of req.policies) {
      const modes: (AsiModeName | undefined)[] = req.ablation && policy === 'scalekv' ? [...ABLATION_ASI_MODES] : [undefined];
      for (const asiMode of modes) {
        for (const ratio of req.ratios) {
          const key = rowKey(policy, ratio, budgetRule, asiMode);
          rows.push({ key, policy, label: rowLabel(policy, budgetRule, asiMode), ratio, budgetRule, asiMode });
        }
      }
    }
  }
  return rows;
}

/** whether ScaleKV profiles are calibrated by the evaluation (rather than given or shipped) */
export function calibrates(req: EvaluateRequest): boolean {
  return !req.profilePath && !req.profileSet?.length && !!(req.calibrate || req.ablation || req.budgetRules?.length);
}

/** what a given profile was made for: its target ratio and budget rule (profiles without one are legacy) */
export interface GivenProfile {
  path: string;
  ratio: number;
  rule: BudgetRuleName;
}

/**
 * The profile of a set for each row of a profile policy: the one made for the row's ratio and, where
 * the row names a budget rule, for that rule. A row with none or several is an error naming what the
 * set holds, raised before anything runs.
 */
export function matchProfiles(rows: PlannedRow[], set: GivenProfile[]): Map<string, string> {
  const out = new Map<string, string>();
  const held = set.map((p) => `${p.path} (ratio ${p.ratio}, ${p.rule} rule)`).join('; ');
  for (const r of rows) {
    const fit = set.filter((p) => Math.abs(p.ratio - r.ratio) < 1e-9 && (!r.budgetRule || p.rule === r.budgetRule));
    const what = `${r.label} at ratio ${r.ratio}`;
    if (!fit.length) bad(`No profile of the set was made for ${what}${r.budgetRule ? '' : ' (any rule)'}. The set: ${held}.`);
    if (fit.length > 1) {
      bad(`${fit.length} profiles of the set fit ${what}: ${fit.map((p) => p.path).join(', ')}. Give one per ratio and rule.`);
    }
    out.set(r.key, fit[0].path);
  }
  return out;
}

/**
 * The folder an evaluation started from VS Code or a notebook writes to: named after the request, so
 * running the same evaluation again (after a cancel, a crash, a closed window) resumes it.
 */
export function evaluationFolder(root: string, req: Omit<EvaluateRequest, 'outDir'>): string {
  const hash = createHash('sha256')
    .update(JSON.stringify({ ...req, outDir: undefined }))
    .digest('hex')
    .slice(0, 12);
  return join(root, 'evaluations', `${req.resolution}-${req.prompts.length}p-${hash}`);
}
