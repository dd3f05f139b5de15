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

export type PolicyName = 'full' | 'scalekv' | 'local' | 'h2o' | 'snapkv' | 'amskv';
export const POLICY_NAMES: readonly PolicyName[] = ['full', 'scalekv', 'local', 'h2o', 'snapkv', 'amskv'];

/**
 * How the observation-window queries are formed when scoring cached keys.
 * 'code': as StargazerX0/ScaleKV does it (raw q = x·Wq without bias, before cosine normalisation and RoPE,
 *         scaled by 1/sqrt(head_dim)); the default.
 * 'paper': the attention's own query (normalised, scaled, rotated) and logits, as the paper describes.
 */
export type WindowQueryMode = 'code' | 'paper';

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
  /** where this profile came from: 'calibration', 'official-import', 'allocation' */
  origin: string;
}

/** The official ScaleKV budget table: keys "Scale 9".."Scale 13", each with "Block i", Max, Min, High, Limit. */
export type OfficialBudgetTable = Record<string, Record<string, number>>;

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

export interface GenerateRequest {
  /** folder or file of official-format weights; undefined = the embedded tiny checkpoint */
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
  /** a partial-state file to resume from (written as calibration progresses) */
  statePath?: string;
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

export interface Progress {
  stage: 'load' | 'encode' | 'scale' | 'decode' | 'calibrate' | 'compare' | 'write';
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

/** What application/vnd.scalekv.run+json carries: the run, its images, and its retention record inline. */
export interface RunPayload {
  run: RunRecord;
  images: { prompt: string; dataUri: string }[];
  retention?: { index: RetentionIndex; dataBase64: string };
}
