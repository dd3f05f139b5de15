/**
 * Typed messages between the extension host and the webviews (visualizer panel, sidebar). One module
 * so that both ends are checked by the compiler. The engine process's messages are in
 * src/engine/protocol.ts, derived from EngineApi.
 */
import type { Leaderboard, ModelSummary, ProviderInfo, RunRecord, ScaleKVProfile } from './types';

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
