/**
 * What each setting reads when the user has not set it: the fallbacks settings.ts passes to
 * getConfiguration().get. No vscode import, so a unit test can hold them against package.json's
 * contributes.configuration defaults.
 */
import { DEFAULTS } from '../shared/defaults';

export const SETTING_DEFAULTS = {
  modelPath: '',
  executionProvider: DEFAULTS.provider,
  precision: DEFAULTS.precision,
  defaultRatio: DEFAULTS.ratio,
  windowSize: DEFAULTS.windowSize,
  poolingKernel: DEFAULTS.poolingKernel,
  queryMode: DEFAULTS.queryMode,
  calibrationPromptsFile: '',
  outputFolder: '',
  resolution: DEFAULTS.resolution,
  cfg: DEFAULTS.cfg,
  tau: DEFAULTS.tau,
  defaultPolicy: DEFAULTS.policy,
  asiTopK: DEFAULTS.asiTopK,
  asiMode: DEFAULTS.asiMode,
  budgetRule: DEFAULTS.budgetRule,
} as const;
