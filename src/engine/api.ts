/**
 * The engine's entry points, called in the engine process (worker), by the CLI and by tests. The
 * extension host reaches them only through the engine process: the messages and replies of that
 * channel are derived from EngineApi in ./protocol.ts, so this interface is the one contract.
 * Every method takes one request object and the job's context.
 */
import type {
  CalibrateRequest,
  CompareRequest,
  CompareResult,
  DescribeRequest,
  EvaluateRequest,
  EvaluateResult,
  GenerateRequest,
  ModelSummary,
  Progress,
  ProviderInfo,
  RunRecord,
  ScaleKVProfile,
} from '../shared/types';

export interface JobContext {
  onProgress: (p: Progress) => void;
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
  describeModel(req: DescribeRequest, ctx?: JobContext): Promise<{ model: ModelSummary; provider: ProviderInfo }>;
}
