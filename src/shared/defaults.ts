/**
 * The generation defaults, in one place: the CLI's flag defaults, the extension settings' fallbacks
 * (which must equal package.json's contributes.configuration defaults: a unit test checks), the
 * notebook controller, the commands and the engine all read them here.
 */
import type { AsiMode, BudgetRule, PolicyName, Precision, ProviderSetting, WindowQueryMode } from './types';

export const DEFAULTS = {
  seed: 0,
  cfg: 3,
  tau: 1,
  topK: 900,
  topP: 0.97,
  /** KV budget as a fraction of the full cache (the paper's 10%) */
  ratio: 0.1,
  /** the embedded default model's trained resolution (512x512) */
  resolution: '0.25M',
  /** width:height */
  aspect: '1:1',
  /** h / w, the aspect as the engine takes it */
  aspectRatio: 1,
  /** observation-window queries per scale (a 4x4 grid of patch centres) */
  windowSize: 16,
  /** max-pooling kernel along the key axis */
  poolingKernel: 5,
  queryMode: 'code' as WindowQueryMode,
  policy: 'scalekv' as PolicyName,
  provider: 'auto' as ProviderSetting,
  /** float16 on GPU providers, float32 on the CPU */
  precision: 'auto' as Precision,
  /** K' of the paper's Eq. 2: the 8..16 range chose the same drafters on the embedded model (README) */
  asiTopK: 8,
  asiMode: 'eq2' as AsiMode,
  budgetRule: 'official' as BudgetRule,
} as const;

export const PROVIDER_SETTINGS: readonly ProviderSetting[] = ['auto', 'cuda', 'webgpu', 'cpu'];
export const PRECISIONS: readonly Precision[] = ['auto', 'fp16', 'fp32'];
export const QUERY_MODES: readonly WindowQueryMode[] = ['code', 'paper'];
