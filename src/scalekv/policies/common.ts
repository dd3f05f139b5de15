/** Pieces the KV policies share: model metadata, budget lookups, and turning per-head keep lists into a Selection. */
import type { Selection, SelectContext } from '../../kvcache/policy';
import type { ScaleShape } from '../../shared/types';

export interface PolicyModel {
  depth: number;
  numHeads: number;
  headDim: number;
  schedule: ScaleShape[];
}

/** Stack per-(row, head) keep lists (all the same length) into a Selection. */
export function stack(lists: Int32Array[]): Selection {
  const per = lists[0].length;
  const keep = new Int32Array(lists.length * per);
  lists.forEach((l, i) => {
    if (l.length !== per) throw new Error(`policy kept ${l.length} entries for one head and ${per} for another`);
    keep.set(l, i * per);
  });
  return { perHead: per, keep };
}

/** keep the same positions in every (row, head) */
export function uniform(ctx: SelectContext, idx: number[]): Selection {
  const sorted = Int32Array.from(idx.sort((a, b) => a - b));
  return stack(Array.from({ length: ctx.rows * ctx.heads }, () => sorted));
}

export function lastN(cacheLen: number, n: number): number[] {
  return Array.from({ length: Math.min(n, cacheLen) }, (_, i) => cacheLen - Math.min(n, cacheLen) + i);
}
