/**
 * One request builder for the commands, the notebook controller and the CLI: each passes what its
 * user chose, and everything left out comes from DEFAULTS, so the three cannot drift apart.
 */
import { DEFAULTS } from './defaults';
import {
  PROFILE_POLICIES,
  type BudgetRule,
  type CalibrateRequest,
  type GenerateRequest,
  type PolicyName,
  type PolicySpec,
  type Precision,
  type ProviderSetting,
  type WindowQueryMode,
} from './types';

export { PROFILE_POLICIES };

export function usesProfile(name: PolicyName): boolean {
  return PROFILE_POLICIES.includes(name);
}

export interface PolicyChoice {
  ratio?: number;
  windowSize?: number;
  poolingKernel?: number;
  queryMode?: WindowQueryMode;
  /** given to the policies that use a profile, dropped for the others */
  profilePath?: string;
  /** how budgets follow from the ratio where they must be re-derived */
  budgetRule?: BudgetRule;
}

export function policySpec(name: PolicyName, c: PolicyChoice = {}): PolicySpec {
  return {
    name,
    ratio: c.ratio ?? DEFAULTS.ratio,
    windowSize: c.windowSize ?? DEFAULTS.windowSize,
    poolingKernel: c.poolingKernel ?? DEFAULTS.poolingKernel,
    queryMode: c.queryMode ?? DEFAULTS.queryMode,
    profilePath: usesProfile(name) ? c.profilePath : undefined,
    ...(c.budgetRule ? { budgetRule: c.budgetRule } : {}),
  };
}

export type BaseRequest = Omit<GenerateRequest, 'policy' | 'outDir'>;

export interface BaseChoice {
  modelPath?: string;
  prompts: string[];
  seed?: number;
  aspectRatio?: number;
  resolution?: string;
  cfg?: number;
  tau?: number;
  topK?: number;
  topP?: number;
  provider?: ProviderSetting;
  precision?: Precision;
}

export function baseRequest(c: BaseChoice): BaseRequest {
  return {
    modelPath: c.modelPath || undefined,
    prompts: c.prompts,
    seed: c.seed ?? DEFAULTS.seed,
    aspectRatio: c.aspectRatio ?? DEFAULTS.aspectRatio,
    resolution: c.resolution ?? DEFAULTS.resolution,
    cfg: c.cfg ?? DEFAULTS.cfg,
    tau: c.tau ?? DEFAULTS.tau,
    topK: c.topK ?? DEFAULTS.topK,
    topP: c.topP ?? DEFAULTS.topP,
    provider: c.provider ?? DEFAULTS.provider,
    precision: c.precision ?? DEFAULTS.precision,
  };
}

export function generateRequest(c: BaseChoice & { policy: PolicySpec; outDir: string; recordRetention?: boolean }): GenerateRequest {
  return { ...baseRequest(c), policy: c.policy, outDir: c.outDir, recordRetention: c.recordRetention ?? true };
}

export function calibrateRequest(
  c: Omit<BaseChoice, 'seed' | 'tau' | 'topK' | 'topP'> &
    Pick<
      CalibrateRequest,
      'outPath' | 'draftersPerScale' | 'statePath' | 'keepState' | 'asiMode' | 'asiTopK' | 'budgetRule' | 'drafterPairs'
    > & {
      ratio?: number;
      windowSize?: number;
      poolingKernel?: number;
    },
): CalibrateRequest {
  const b = baseRequest(c);
  return {
    modelPath: b.modelPath,
    prompts: c.prompts,
    targetRatio: c.ratio ?? DEFAULTS.ratio,
    aspectRatio: b.aspectRatio,
    resolution: b.resolution,
    cfg: b.cfg,
    provider: b.provider,
    outPath: c.outPath,
    draftersPerScale: c.draftersPerScale,
    windowSize: c.windowSize ?? DEFAULTS.windowSize,
    poolingKernel: c.poolingKernel ?? DEFAULTS.poolingKernel,
    statePath: c.statePath,
    ...(c.keepState && { keepState: true }),
    asiMode: c.asiMode ?? DEFAULTS.asiMode,
    asiTopK: c.asiTopK ?? DEFAULTS.asiTopK,
    budgetRule: c.budgetRule ?? DEFAULTS.budgetRule,
    drafterPairs: c.drafterPairs,
  };
}
