/**
 * Types shared by the extension host, the engine worker, the CLI and the webviews. Everything that
 * crosses a process, thread or webview boundary, or is written to disk, is declared here once.
 */

export type ExecutionProvider = 'cuda' | 'webgpu' | 'cpu';
/** 'auto' tries cuda, then webgpu, then cpu. */
export type ProviderSetting = 'auto' | ExecutionProvider;

/** Token-map size of one scale (Infinity's (1, h, w) with the time axis dropped). */
export interface ScaleShape {
  h: number;
  w: number;
}

export type PolicyName = 'full' | 'scalekv' | 'local' | 'h2o' | 'snapkv' | 'amskv' | 'hack' | 'heatkv';
export const POLICY_NAMES: readonly PolicyName[] = ['full', 'scalekv', 'local', 'h2o', 'snapkv', 'amskv', 'hack', 'heatkv'];
/** policies that read a calibrated profile (their own statistics or ScaleKV's roles) */
export const PROFILE_POLICIES: readonly PolicyName[] = ['scalekv', 'amskv', 'hack', 'heatkv'];

/** How budgets are derived from a ratio: the official tables' rule, or this project's older one. */
export type BudgetRule = 'official' | 'legacy';
export type AsiMode = 'eq2' | 'current' | 'history' | 'sum';

/**
 * How the observation-window queries are formed when scoring cached keys.
 * 'code': as StargazerX0/ScaleKV does it (raw q = x·Wq without bias, before cosine normalisation and RoPE,
 *         scaled by 1/sqrt(head_dim)); the default.
 * 'paper': the attention's own query (normalised, scaled, rotated) and logits, as the paper describes.
 */
export type WindowQueryMode = 'code' | 'paper';

/** Compute precision: 'auto' is float16 on GPU providers and float32 on the CPU. */
export type Precision = 'auto' | 'fp16' | 'fp32';

export interface PolicySpec {
  name: PolicyName;
  /** Target KV memory as a fraction of the full cache (0 < ratio <= 1), for policies that derive budgets. */
  ratio?: number;
  /** A ScaleKV profile (ours) or an official budget table, by path; or inline. */
  profilePath?: string;
  profile?: ScaleKVProfile;
  windowSize?: number; // default 16
  poolingKernel?: number; // default 5
  pooling?: 'maxpool' | 'avgpool';
  queryMode?: WindowQueryMode;
  /** Cache length below which nothing is compressed (official inference scripts use 650). */
  baseCapacity?: number;
  /** local / amskv: how many most recent scales are kept whole */
  localScales?: number;
  /** amskv: how many earliest scales are kept as condensed context */
  condensedScales?: number;
  /** how budgets follow from the ratio where a profile's must be re-derived (default: the profile's rule) */
  budgetRule?: BudgetRule;
  /** hack: the share of heads (most vertical first) that are contextual, and their budget per head relative to the average */
  hackContextualFraction?: number;
  hackContextualShare?: number;
  /** heatkv: leading scales never pruned */
  heatSinkScales?: number;
}

export interface ModelSummary {
  name: string;
  depth: number;
  embedDim: number;
  numHeads: number;
  headDim: number;
  codebookDim: number;
  textChannels: number;
  /** where the weights came from: 'embedded' or a path */
  source: string;
  /** formats found, e.g. ['pth'] or ['safetensors'] */
  formats: string[];
  parameters: number;
}

// ---------------------------------------------------------------------------------------------
// Profiles (our versioned format; can be exported to / imported from the official budget table)
// ---------------------------------------------------------------------------------------------

export type LayerRole = 'drafter' | 'refiner';

export interface ProfileScale {
  /** 0-based scale index si */
  scaleIndex: number;
  shape: ScaleShape;
  /** tokens cached before this scale's tokens are appended (sum of earlier h*w) */
  tokensBefore: number;
  /** tokens cached after this scale's tokens are appended when nothing is evicted */
  cumulativeTokens: number;
  /** whether caches are compressed after this scale */
  compressed: boolean;
  drafterBudget: number;
  refinerBudget: number;
  /** per layer */
  roles: LayerRole[];
  /** the official table's "Limit" for this scale, kept so an imported table exports unchanged */
  limit?: number;
  /** Attention Selectivity Index per layer (calibration only) */
  asi?: number[];
  /** ASI per layer per head (calibration only) */
  asiPerHead?: number[][];
  /** the Eq. 2 factors and the sum index per layer (calibration only), so any asiMode can be re-ranked */
  asiCurrent?: number[];
  asiHistory?: number[];
  asiSum?: number[];
}

/** HACK's offline head statistics (calibration): how vertical each head's attention is, per [layer][head] */
export interface HackStats {
  /** N_hist x sum_j p_j^2 - 1 of the history attention shares p (0 for uniform, large for a few columns) */
  verticality: number[][];
}

/** HeatKV's Scale-dependent Cumulative Attention Score per [layer][head][source scale] (calibration) */
export interface HeatStats {
  scas: number[][][];
}

export interface ProfileModelRef {
  name: string;
  depth: number;
  numHeads: number;
  headDim: number;
  schedule: ScaleShape[];
}

export interface CalibrationInfo {
  prompts: string[];
  seeds: number[];
  cfg: number;
  resolution: string;
  aspectRatio: number;
  /** prompt x scale units that were measured (for resumed runs) */
  completedPrompts: number;
  asiDefinition: string;
}

export interface ProfileSettings {
  targetRatio: number;
  windowSize: number;
  poolingKernel: number;
  pooling: 'maxpool' | 'avgpool';
  queryMode: WindowQueryMode;
  baseCapacity: number;
  /** tokens of the earliest scales that are never compressed */
  uncompressedTokens: number;
  draftersPerScale: number;
  refinerInitialBudget: number;
  refinerDecay: number;
  /** which rule made the budgets; absent in profiles written before the official rule: 'legacy' */
  budgetRule?: BudgetRule;
  /** the official rule's B (tokens per layer), when budgetRule is 'official' */
  tokensPerLayer?: number;
  /** how drafters were chosen (calibrated profiles): the ASI mode, K' of Eq. 2, N_d of Eq. 3 */
  asiMode?: AsiMode;
  asiTopK?: number;
  drafterPairs?: number;
}

export interface ScaleKVProfile {
  format: 'scalekv-profile';
  version: 1;
  createdAt: string;
  model: ProfileModelRef;
  settings: ProfileSettings;
  calibration?: CalibrationInfo;
  /** one entry per scale of model.schedule */
  scales: ProfileScale[];
  /** per-head statistics for the hack and heatkv policies (calibrated profiles) */
  hack?: HackStats;
  heat?: HeatStats;
  /** where this profile came from: 'calibration', 'official-import', 'allocation' */
  origin: string;
  /** the weights it was calibrated on, where the model's manifest records their hash: a profile of other weights is refused */
  weights?: { transformerSha256: string };
}

/** The official ScaleKV budget table: keys "Scale 9".."Scale 13", each with "Block i", Max, Min, High, Limit. */
export type OfficialBudgetTable = Record<string, Record<string, number>>;

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

export interface GenerateRequest {
  /** folder or file of official-format weights; undefined = the embedded default (media/models/infinity-shapes) */
  modelPath?: string;
  prompts: string[];
  seed: number;
  /** h / w, snapped to Infinity's nearest aspect-ratio template */
  aspectRatio: number;
  /** Infinity's pixel budget names: '0.06M' | '0.25M' | '0.60M' | '1M' */
  resolution: string;
  cfg: number;
  tau: number;
  topK: number;
  topP: number;
  policy: PolicySpec;
  provider: ProviderSetting;
  outDir: string;
  /** record the kept token positions of every layer/scale/head (for the visualizer) */
  recordRetention?: boolean;
  /** compute precision (default 'auto': float16 on GPU providers, float32 on the CPU) */
  precision?: Precision;
}

export interface ScaleTiming {
  scaleIndex: number;
  ms: number;
}

export interface KvScaleStat {
  scaleIndex: number;
  /** bytes held by all layers after this scale's eviction */
  heldBytes: number;
  /** bytes a full cache would hold after this scale */
  fullBytes: number;
  /** bytes held by each layer after this scale */
  perLayerHeld: number[];
  /** tokens cached per layer after this scale (per batch row and head) */
  perLayerTokens: number[];
  /** bytes in use while this scale ran (before eviction) */
  peakBytes: number;
}

export interface KvReport {
  /** bytes per cached element as stored by the engine (4 for float32) */
  bytesPerElement: number;
  /** the same numbers in bf16, the dtype the official implementation caches in */
  referenceBytesPerElement: number;
  batchRows: number;
  perScale: KvScaleStat[];
  peakBytes: number;
  fullPeakBytes: number;
  finalHeldBytes: number;
  finalFullBytes: number;
}

/** Per (scale, layer): kept token positions for every batch row and head, in a binary side file. */
export interface RetentionEntry {
  scaleIndex: number;
  layer: number;
  /** int32 offset into the .bin file (in elements); -1 when the cache still held every token 0..count-1 */
  offset: number;
  /** kept tokens per (row, head) */
  count: number;
  /** cache length before eviction */
  cacheLen: number;
}

export interface RetentionIndex {
  file: string;
  batchRows: number;
  heads: number;
  layers: number;
  /** layout per entry: [row][head][count] int32 original token positions, ascending */
  entries: RetentionEntry[];
}

export interface ImageRecord {
  path: string;
  /** a copy at most 256 px on its long side, for outputs stored inline (notebooks); absent when path is that small */
  thumbnail?: string;
  prompt: string;
  seed: number;
  width: number;
  height: number;
}

export interface ProviderInfo {
  requested: ProviderSetting;
  used: ExecutionProvider;
  /** why this provider ran (e.g. why it fell back) */
  reason: string;
}

export interface RunRecord {
  format: 'scalekv-run';
  version: 1;
  id: string;
  createdAt: string;
  model: ModelSummary;
  provider: ProviderInfo;
  request: GenerateRequest;
  schedule: ScaleShape[];
  images: ImageRecord[];
  timings: ScaleTiming[];
  totalMs: number;
  kv: KvReport;
  /** sampled bits per scale, for token agreement between runs: file of uint8 [row][token][bit] per scale */
  tokensFile?: string;
  retention?: RetentionIndex;
  /** the profile used (ScaleKV runs) */
  profile?: ScaleKVProfile;
  fidelity?: FidelityReport;
  /** things the user should know about the run (the engine writes an empty list when there are none) */
  notices?: RunNotice[];
}

/**
 * Something the user should know about a run: prompt words the model never learned, a profile derived on
 * the fly, or a GPU provider that failed one of the model's graphs so the run fell back to the next one.
 */
export interface RunNotice {
  kind: 'unknown-words' | 'derived-profile' | 'provider-fallback';
  /** unknown-words: the prompt and its unknown words */
  prompt?: string;
  words?: string[];
  message: string;
}

export interface ImageFidelity {
  prompt: string;
  seed: number;
  psnr: number; // Infinity for identical images
  ssim: number;
  lpips: number | null;
}

export interface FidelityReport {
  referenceRun: string;
  candidateRun: string;
  policy: PolicySpec;
  images: ImageFidelity[];
  /** fraction of sampled bits equal to the reference, per scale */
  tokenAgreement: { scaleIndex: number; agreement: number }[];
  kvHeldRatio: number;
  kvPeakRatio: number;
  timePerScale: { scaleIndex: number; referenceMs: number; candidateMs: number }[];
  lpipsNote: string;
}

export interface CalibrateRequest {
  modelPath?: string;
  prompts: string[];
  seeds?: number[];
  targetRatio: number;
  aspectRatio: number;
  resolution: string;
  cfg: number;
  provider: ProviderSetting;
  outPath: string;
  draftersPerScale?: number;
  windowSize?: number;
  poolingKernel?: number;
  /** how drafters are chosen: 'eq2' (default), one factor alone, or the older sum index */
  asiMode?: AsiMode;
  /** K' of Eq. 2 (default DEFAULT_ASI_TOP_K) */
  asiTopK?: number;
  /** 'official' (default) or 'legacy' */
  budgetRule?: BudgetRule;
  /** N_d of Eq. 3: drafter layer-scale pairs in all (default: the official tables' density) */
  drafterPairs?: number;
  /** a partial-state file to resume from (written as calibration progresses) */
  statePath?: string;
  /**
   * keep the state file after the profile is written: what it measured does not depend on the ratio,
   * budget rule, ASI mode or N_d, so another calibration with the same prompts and state file writes
   * its profile without running the model again
   */
  keepState?: boolean;
}

/** which model to describe, and the provider setting it would run under */
export interface DescribeRequest {
  modelPath?: string;
  provider: ProviderSetting;
}

export interface CompareRequest {
  base: Omit<GenerateRequest, 'policy' | 'outDir'>;
  policies: PolicySpec[];
  outDir: string;
}

export interface CompareResult {
  reference: RunRecord;
  candidates: RunRecord[];
  reports: FidelityReport[];
  tablePath: string;
  jsonPath: string;
}

// ---------------------------------------------------------------------------------------------
// Evaluation: every policy at every ratio against the full cache, over a prompt set (a leaderboard)
// ---------------------------------------------------------------------------------------------

/** How budgets are derived from a ratio. Passed through to policies and calibration; older builds ignore it. */
export type BudgetRuleName = 'official' | 'legacy';
export const BUDGET_RULE_NAMES: readonly BudgetRuleName[] = ['official', 'legacy'];
/** Which Attention Selectivity Index calibration measures (the ablation compares the first three). */
export type AsiModeName = 'eq2' | 'current' | 'history' | 'sum';
export const ABLATION_ASI_MODES: readonly AsiModeName[] = ['eq2', 'current', 'history'];

export interface EvaluateRequest {
  modelPath?: string;
  prompts: string[];
  /** every prompt runs with every seed */
  seeds: number[];
  /** candidate policies (registered names other than 'full'); each runs at every ratio */
  policies: PolicyName[];
  ratios: number[];
  aspectRatio: number;
  resolution: string;
  cfg: number;
  tau: number;
  topK: number;
  topP: number;
  provider: ProviderSetting;
  /** leaderboard.json, leaderboard.md, evaluate.state.json, runs/ and profiles/ go here */
  outDir: string;
  /** a ScaleKV profile or official table for the profile-based policies; otherwise see calibrate */
  profilePath?: string;
  /**
   * profiles made for particular ratios (and budget rules), e.g. by `scalekv calibrate`: every row of a
   * profile policy takes the one whose target ratio and budget rule are the row's; instead of profilePath
   */
  profileSet?: string[];
  /** calibrate a ScaleKV profile per ratio (and rule / ASI mode) instead of using the model's shipped one */
  calibrate?: boolean;
  /** prompts for those calibrations (default: the 10 built-in calibration prompts) */
  calibrationPrompts?: string[];
  /** run every row once per rule (compares budget rules); empty: the policies' default rule */
  budgetRules?: BudgetRuleName[];
  /** ScaleKV once per ASI mode eq2 / current / history, each calibrated with that mode (the paper's Fig. 6b) */
  ablation?: boolean;
  windowSize?: number;
  poolingKernel?: number;
  queryMode?: WindowQueryMode;
  /** keep the candidates' run folders (images, tokens); by default only the references are kept */
  keepRuns?: boolean;
  /**
   * also write the leaderboard after every finished prompt and seed, covering the cases finished so far
   * (marked partial in its notes), so a watcher or a sharded run's merge sees results before the end
   */
  progressive?: boolean;
}

/** One policy x ratio (x rule, x ASI mode) measured on one prompt and seed. */
export interface LeaderboardPromptRow {
  /** the leaderboard row this belongs to (LeaderboardRow.key) */
  row: string;
  prompt: string;
  seed: number;
  candidateRun: string;
  /** dB; null when the image equals the reference (infinite PSNR) */
  psnr: number | null;
  ssim: number;
  /** fraction of the last scale's sampled bits equal to the reference's */
  bitAgreement: number;
  kvHeldBytes: number;
  kvPeakBytes: number;
  /** of the full-cache run of the same prompt and seed */
  kvHeldRatio: number;
  kvPeakRatio: number;
  ms: number;
  timeRatio: number;
}

/** Means over prompts and seeds of one policy x ratio (x rule, x ASI mode). */
export interface LeaderboardRow {
  key: string;
  policy: PolicyName;
  /** what the tables and plot call it, e.g. "scalekv" or "scalekv (ASI current)" */
  label: string;
  ratio: number;
  budgetRule?: BudgetRuleName;
  asiMode?: AsiModeName;
  /** prompt x seed cases measured */
  cases: number;
  /** mean over the cases whose image differs from the reference; null when all are identical */
  psnr: number | null;
  /** cases whose image equals the reference */
  identical: number;
  ssim: number;
  bitAgreement: number;
  kvHeldBytes: number;
  kvPeakBytes: number;
  kvHeldRatio: number;
  kvPeakRatio: number;
  ms: number;
  timeRatio: number;
}

export interface LeaderboardReference {
  prompt: string;
  seed: number;
  run: string;
  ms: number;
  kvHeldBytes: number;
  kvPeakBytes: number;
}

export interface Leaderboard {
  format: 'scalekv-leaderboard';
  version: 1;
  createdAt: string;
  model: ModelSummary;
  provider: ProviderInfo;
  resolution: string;
  aspectRatio: number;
  image: { width: number; height: number };
  prompts: string[];
  seeds: number[];
  ratios: number[];
  policies: PolicyName[];
  budgetRules: BudgetRuleName[];
  ablation: boolean;
  /** the ScaleKV profiles the rows used: given, or calibrated per ratio (and rule, and ASI mode) */
  profiles: { rule?: BudgetRuleName; asiMode?: AsiModeName; ratio: number; path: string; origin: string }[];
  references: LeaderboardReference[];
  rows: LeaderboardRow[];
  perPrompt: LeaderboardPromptRow[];
  notes: string[];
}

export interface EvaluateResult {
  leaderboard: Leaderboard;
  jsonPath: string;
  tablePath: string;
  /** rows computed by this call (the rest came from the state of an interrupted evaluation) */
  computed: number;
  resumed: number;
}

export interface Progress {
  /** queued: waiting for the engine's running job to finish */
  stage: 'queued' | 'load' | 'encode' | 'scale' | 'decode' | 'calibrate' | 'compare' | 'evaluate' | 'write';
  message: string;
  /** 0..1 of the whole job */
  fraction: number;
  scaleIndex?: number;
  prompt?: number;
}

// ---------------------------------------------------------------------------------------------
// Notebook payloads
// ---------------------------------------------------------------------------------------------

export const PROFILE_MIME = 'application/vnd.scalekv.profile+json';
export const RUN_MIME = 'application/vnd.scalekv.run+json';
/** carries a Leaderboard */
export const LEADERBOARD_MIME = 'application/vnd.scalekv.leaderboard+json';

/** What application/vnd.scalekv.run+json carries: the run, its images, and its retention record inline. */
export interface RunPayload {
  run: RunRecord;
  images: { prompt: string; dataUri: string }[];
  retention?: { index: RetentionIndex; dataBase64: string };
}

/** The extension's settings (contributes.configuration in package.json), as src/extension/settings.ts reads them. */
export interface Settings {
  modelPath: string | undefined;
  provider: ProviderSetting;
  precision: Precision;
  ratio: number;
  windowSize: number;
  poolingKernel: number;
  queryMode: WindowQueryMode;
  promptsFile: string;
  outputFolder: string;
  resolution: string;
  cfg: number;
  tau: number;
  policy: PolicyName;
  asiTopK: number;
  asiMode: AsiMode;
  budgetRule: BudgetRule;
}
