/**
 * The engine's entry points, called in the engine process (worker), by the CLI and by tests. The
 * extension host never imports this module directly: it talks to the worker through
 * src/shared/protocol.ts.
 */
import type {
  CalibrateRequest,
  CompareRequest,
  CompareResult,
  EvaluateRequest,
  EvaluateResult,
  GenerateRequest,
  ModelSummary,
  Progress,
  ProviderInfo,
  ProviderSetting,
  RunRecord,
  ScaleKVProfile,
} from '../shared/types';

export interface JobContext {
  onProgress(p: Progress): void;
  /** aborted when the user cancels; the engine checks it between layers and scales */
  signal: AbortSignal;
  log?(level: 'info' | 'warn' | 'error', message: string): void;
}

export interface EngineApi {
  generate(req: GenerateRequest, ctx: JobContext): Promise<{ run: RunRecord; runPath: string }>;
  calibrate(req: CalibrateRequest, ctx: JobContext): Promise<{ profile: ScaleKVProfile; profilePath: string }>;
  compare(req: CompareRequest, ctx: JobContext): Promise<CompareResult>;
  /** every policy at every ratio against the full cache over a prompt set; resumable (see evaluate.ts) */
  evaluate(req: EvaluateRequest, ctx: JobContext): Promise<EvaluateResult>;
  /** loads (or reuses) the model; ctx lets Select Model be cancelled or timed out like a generation */
  describeModel(
    modelPath: string | undefined,
    provider: ProviderSetting,
    ctx?: JobContext,
  ): Promise<{ model: ModelSummary; provider: ProviderInfo }>;
}
