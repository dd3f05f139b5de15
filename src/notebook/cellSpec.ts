/**
 * The run specification a ScaleKV notebook cell holds (JSON):
 *   {"action": "generate", "prompts": ["..."], "seed": 0, "resolution": "0.25M", "policy": "scalekv", "ratio": 0.1}
 *   {"action": "calibrate", "prompts": [...], "ratio": 0.1, "resolution": "0.25M"}
 *   {"action": "compare", "prompts": ["..."], "policies": ["scalekv", "snapkv"], "ratio": 0.1}
 * Optional everywhere: "model" (path), "provider", "cfg", "aspect" (e.g. "1:1"), "profile" (path).
 */
import { parseAspect } from '../model/schedule';
import { DEFAULTS } from '../shared/defaults';
import { POLICY_NAMES, type PolicyName } from '../shared/types';

export interface CellSpec {
  action: 'generate' | 'calibrate' | 'compare';
  prompts: string[];
  seed: number;
  resolution: string;
  aspectRatio: number;
  policy: PolicyName;
  policies: PolicyName[];
  ratio: number;
  cfg: number;
  model?: string;
  provider?: string;
  profile?: string;
}

export function parseCellSpec(text: string, defaults: { resolution: string; ratio: number; cfg: number; policy: PolicyName }): CellSpec {
  let x: Record<string, unknown>;
  try {
    x = JSON.parse(text);
  } catch (e) {
    throw new Error(`The cell is not a JSON run specification: ${(e as Error).message}. Example: {"action": "generate", "prompts": ["a red apple"], "policy": "scalekv"}`);
  }
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new Error('The cell must hold a JSON object.');
  const action = x.action ?? 'generate';
  if (action !== 'generate' && action !== 'calibrate' && action !== 'compare') throw new Error(`"action" must be generate, calibrate or compare, not ${JSON.stringify(action)}.`);
  const prompts = x.prompts ?? (typeof x.prompt === 'string' ? [x.prompt] : []);
  if (!Array.isArray(prompts) || prompts.some((p) => typeof p !== 'string' || !p.trim())) throw new Error('"prompts" must be a list of non-empty strings.');
  if (action !== 'calibrate' && prompts.length === 0) throw new Error('"prompts" needs at least one prompt.');
  const pol = (x.policy ?? defaults.policy) as PolicyName;
  if (!POLICY_NAMES.includes(pol)) throw new Error(`"policy" must be one of ${POLICY_NAMES.join(', ')}.`);
  const policies = (x.policies ?? ['scalekv']) as PolicyName[];
  if (!Array.isArray(policies) || policies.some((p) => !POLICY_NAMES.includes(p))) throw new Error(`"policies" must list names from ${POLICY_NAMES.join(', ')}.`);
  const num = (k: string, d: number) => {
    const v = x[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`"${k}" must be a number.`);
    return v;
  };
  return {
    action,
    prompts: prompts as string[],
    seed: num('seed', DEFAULTS.seed),
    resolution: String(x.resolution ?? defaults.resolution),
    aspectRatio: parseAspect(String(x.aspect ?? DEFAULTS.aspect)),
    policy: pol,
    policies,
    ratio: num('ratio', defaults.ratio),
    cfg: num('cfg', defaults.cfg),
    model: typeof x.model === 'string' ? x.model : undefined,
    provider: typeof x.provider === 'string' ? x.provider : undefined,
    profile: typeof x.profile === 'string' ? x.profile : undefined,
  };
}
