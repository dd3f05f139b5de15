/**
 * The interface every KV-cache policy (full, ScaleKV, and the baselines) implements. The engine runs
 * a layer's attention for one scale, then asks the policy which cached tokens to keep. Heavy tensors
 * stay with the engine (possibly on the GPU); the policy sees only the small per-key score arrays it
 * asked for.
 */
import type { PolicyName, ScaleShape, WindowQueryMode } from '../shared/types';

/** What the engine must compute during a layer's step so the policy can decide afterwards. */
export interface PolicyNeeds {
  /**
   * Local indices (within the current scale's token map, row-major) of the observation-window
   * queries whose scores against every cached key the policy needs; null when none.
   * May contain repeats (the official fallback clamps indices).
   */
  windowQueries: Int32Array | null;
  /** which query form scores the window (see WindowQueryMode) */
  queryMode: WindowQueryMode;
  /** attention probability mass per cached key, summed over this scale's queries (H2O, ASI) */
  colsum: boolean;
  /**
   * K' for the paper's ASI factors (calibration): per (row, head) the mean current-map share and the mean
   * top-K' history sum of this scale's queries; absent or 0 when not needed. Only asked where the scale
   * has history; the engine clamps K' to the history length.
   */
  asiTopK?: number;
}

export interface SelectContext {
  layer: number;
  scaleIndex: number;
  schedule: ScaleShape[];
  /** batch rows (2 x prompts with CFG: conditional rows first) */
  rows: number;
  heads: number;
  /** keys cached for this layer after this scale's keys were appended (same for every row/head) */
  cacheLen: number;
  /** this scale's keys are the last curLen entries of the cache */
  curLen: number;
  /** original token positions of the cached keys, [rows][heads][cacheLen] */
  positions: Int32Array;
  isLastScale: boolean;
  /** [rows][heads][W][cacheLen] window-query logits (already scaled), when needs.windowQueries was set */
  windowScores: Float32Array | null;
  /** [rows][heads][cacheLen], when needs.colsum was set */
  colsum: Float32Array | null;
  /** [rows][heads][2] (current share, top-K' history sum), when needs.asiTopK was set */
  asiStats?: Float32Array | null;
}

export interface Selection {
  /** kept entries per (row, head); the same for all */
  perHead: number;
  /** [rows][heads][perHead] indices into the current cache, ascending within each (row, head) */
  keep: Int32Array;
}

/**
 * A selection decided by shapes alone (the budget, the window and how to score it), which the engine
 * can compile into the scale's graph so eviction never leaves the device (kernels/graphs/kvSelect.ts).
 */
export interface StaticSelection {
  /** cache length after selection */
  capacity: number;
  /** ascending cache indices of the window's keys */
  windowKeys: Int32Array;
  /** rows of the current scale's queries that score the cache (aligned with windowKeys) */
  windowQueries: Int32Array;
  kernel: number;
  pooling: 'maxpool' | 'avgpool';
  queryMode: WindowQueryMode;
}

export interface KvPolicy {
  readonly name: PolicyName;
  /**
   * Policies whose decisions depend only on shapes and on scores the graph can compute describe them
   * here (null: keep everything at this layer and scale); the engine then runs them inside its fused
   * per-scale graphs. 'layerwise' (or no method) runs the generation layer by layer through
   * needs()/select().
   */
  staticSelection?(layer: number, scaleIndex: number, cacheLen: number, schedule: ScaleShape[]): StaticSelection | null | 'layerwise';
  /** called once before every generation */
  reset(): void;
  /** asked before a layer's step at a scale; cacheLen is the length after appending the scale */
  needs(layer: number, scaleIndex: number, cacheLen: number, schedule: ScaleShape[]): PolicyNeeds;
  /** null keeps every cached token */
  select(ctx: SelectContext): Selection | null;
}
