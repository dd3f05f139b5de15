/**
 * Typed messages between the extension host and the engine worker, and between the host and the
 * webviews (visualizer panel, sidebar). One module so that both ends are checked by the compiler.
 */
import type { ErrorInfo } from './errors';
import type {
  CalibrateRequest,
  CompareRequest,
  CompareResult,
  EvaluateRequest,
  EvaluateResult,
  GenerateRequest,
  Leaderboard,
  ModelSummary,
  Progress,
  ProviderInfo,
  ProviderSetting,
  RunRecord,
  ScaleKVProfile,
} from './types';

// ---- host -> engine worker -------------------------------------------------------------------

export type EngineRequest =
  | { type: 'generate'; id: number; request: GenerateRequest }
  | { type: 'calibrate'; id: number; request: CalibrateRequest }
  | { type: 'compare'; id: number; request: CompareRequest }
  | { type: 'evaluate'; id: number; request: EvaluateRequest }
  | { type: 'describeModel'; id: number; modelPath?: string; provider: ProviderSetting }
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' };

/** the request types that start a job (the others are cancel and shutdown) */
export const ENGINE_JOB_TYPES = ['generate', 'calibrate', 'compare', 'describeModel'] as const;

export type EngineResult =
  | { kind: 'generate'; run: RunRecord; runPath: string }
  | { kind: 'calibrate'; profile: ScaleKVProfile; profilePath: string }
  | { kind: 'compare'; result: CompareResult }
  | { kind: 'evaluate'; result: EvaluateResult }
  | { kind: 'describeModel'; model: ModelSummary; provider: ProviderInfo };

// ---- engine worker -> host -------------------------------------------------------------------

export type EngineEvent =
  | { type: 'ready' }
  /** the worker has received request id and starts it (a request never accepted can be sent again) */
  | { type: 'accepted'; id: number }
  | { type: 'progress'; id: number; progress: Progress }
  | { type: 'result'; id: number; result: EngineResult }
  | { type: 'error'; id: number; error: ErrorInfo }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

// ---- host <-> visualizer webview -------------------------------------------------------------

export interface Selection {
  layer: number;
  scaleIndex: number;
  head: number;
  row: number;
}

export interface RetentionSlice {
  runId: string;
  selection: Selection;
  /** kept original token positions (ascending) */
  kept: number[];
  /** cache length before eviction */
  cacheLen: number;
}

export type ToWebview =
  | { type: 'profile'; profile: ScaleKVProfile | null }
  | { type: 'run'; run: RunRecord | null; images: { prompt: string; dataUri: string }[] }
  | { type: 'retention'; slice: RetentionSlice | null; error?: string }
  /** an evaluation's leaderboard (table and memory-vs-fidelity plot) */
  | { type: 'leaderboard'; leaderboard: Leaderboard | null }
  /** the files shown, kept in the webview's state so that the panel's serializer finds them after a reload */
  | { type: 'source'; state: Pick<VisualizerState, 'runPath' | 'profilePath' | 'leaderboardPath'> }
  | { type: 'error'; message: string };

export type ExportKind = 'svg' | 'png' | 'json' | 'csv';

export type FromWebview =
  | { type: 'ready' }
  | { type: 'select'; selection: Selection }
  | { type: 'requestRetention'; runId: string; selection: Selection }
  | { type: 'export'; kind: ExportKind; suggestedName: string; /** text for svg/json/csv, base64 for png */ data: string }
  | { type: 'command'; command: string }
  | { type: 'error'; message: string };

/** State the visualizer keeps across reloads (vscode.setState + WebviewPanelSerializer). */
export interface VisualizerState {
  profilePath?: string;
  runPath?: string;
  /** leaderboard.json of an evaluation */
  leaderboardPath?: string;
  selection?: Selection;
}

// ---- host <-> sidebar webview view -----------------------------------------------------------

export interface SidebarRunSummary {
  id: string;
  path: string;
  policy: string;
  createdAt: string;
  kvHeldRatio: number | null;
  psnr: number | null;
}

export interface SidebarState {
  model: ModelSummary | null;
  modelError?: string;
  provider: ProviderInfo | null;
  profile: { path: string; origin: string; targetRatio: number } | null;
  runs: SidebarRunSummary[];
  busy: string | null;
  /** the CUDA provider that "Install CUDA Provider" fetches: installed, not yet, or not offered here */
  cuda?: { state: 'installed' | 'missing' | 'unavailable'; detail: string };
}

export type ToSidebar = { type: 'state'; state: SidebarState };
export type FromSidebar = { type: 'ready' } | { type: 'command'; command: string; args?: unknown[] };
