/** Pieces the KV policies share: model metadata, budget lookups, and per-head keep lists as a Selection. */
import type { PolicyNeeds, Selection, SelectContext } from '../../kvcache/policy';
import { ScaleKVError } from '../../shared/errors';
import type { ScaleShape, WindowQueryMode } from '../../shared/types';

export interface PolicyModel {
  depth: number;
  numHeads: number;
  headDim: number;
  schedule: ScaleShape[];
}

/** Budget of a layer at a scale in cached tokens; null where the scale is not compressed. */
export type Budget = (layer: number, scaleIndex: number) => number | null;

/**
 * The size a layer's cache must be cut to at this scale, or null where it stays whole: the scale is not
 * compressed (no budget) or the cache already fits.
 */
export function capToApply(budget: Budget, layer: number, scaleIndex: number, cacheLen: number): number | null {
  const cap = budget(layer, scaleIndex);
  return cap === null || cacheLen <= cap ? null : cap;
}

export const NOTHING_NEEDED = (queryMode: WindowQueryMode = 'code'): PolicyNeeds => ({ windowQueries: null, queryMode, colsum: false });

/** Stack per-(row, head) keep lists (all the same length) into a Selection. */
export function stack(lists: Int32Array[]): Selection {
  const per = lists[0].length;
  const keep = new Int32Array(lists.length * per);
  lists.forEach((l, i) => {
    if (l.length !== per) throw new ScaleKVError('E_INTERNAL', `A KV policy kept ${l.length} entries for one head and ${per} for another.`);
    keep.set(l, i * per);
  });
  return { perHead: per, keep };
}

/** The same cache indices for every (row, head). */
export function uniform(ctx: SelectContext, idx: ArrayLike<number>): Selection {
  const sorted = Int32Array.from(idx).sort();
  return stack(Array.from({ length: ctx.rows * ctx.heads }, () => sorted));
}

/** The last n cache indices. */
export function lastN(cacheLen: number, n: number): number[] {
  const m = Math.min(n, cacheLen);
  return Array.from({ length: m }, (_, i) => cacheLen - m + i);
}

/** Scale index of each original token position, for policies that reason in whole scales. */
export function scaleOfPosition(schedule: ScaleShape[]): (pos: number) => number {
  const ends: number[] = [];
  let acc = 0;
  for (const s of schedule) ends.push((acc += s.h * s.w));
  return (pos) => {
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pos < ends[mid]) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}
