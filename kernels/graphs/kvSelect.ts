/**
 * ScaleKV's token selection as graph nodes, so eviction needs no round trip to the host: score the
 * cache with the observation window's queries, sum over the window, mask the window's own keys, pool
 * along the key axis, keep the top (capacity - window) keys plus the window, in cache order, and
 * gather them per (row, head). Mirrors src/scalekv/tokenSelection.ts selectKeep step for step; the
 * unit tests hold the two to the same indices.
 */
import type { StaticSelection } from '../../src/kvcache/policy';
import { rawBytes, type Graph } from '../onnx/graph';

export type InGraphSelection = StaticSelection;

const INT32 = 6;

export interface SelectInputs {
  /** float32 window scores [B, H, W, N] */
  scores: string;
  B: number;
  H: number;
  N: number;
}

/**
 * Indices to keep, ascending within each (row, head): `local` int32 [B, H, capacity] (cache indices,
 * for the host's position bookkeeping) and `flat` float32 [B*H*capacity] (indices into the cache
 * flattened to [B*H*N, d], for one plain Gather). Index arithmetic stays in float32, exact below
 * 2^24, and indices are int32: the WebGPU provider leaves int64 Reshapes to the CPU, and each such
 * node cost a GPU round trip per layer (~100-250 ms per compressed scale on the H100).
 */
export function selectIndices(g: Graph, s: SelectInputs, sel: InGraphSelection): { local: string; flat: string } {
  const { B, H, N } = s;
  const W = sel.windowKeys.length;
  const offsets = new Float32Array(B * H);
  for (let i = 0; i < B * H; i++) offsets[i] = i * N;
  if (sel.capacity === W) {
    // a budget of exactly the window keeps the window, as the official code does
    const idx = new Float32Array(B * H * W);
    for (let i = 0; i < B * H; i++) for (let j = 0; j < W; j++) idx[i * W + j] = offsets[i] + sel.windowKeys[j];
    const local = Int32Array.from({ length: B * H * W }, (_, i) => sel.windowKeys[i % W]);
    return { local: g.initializer(g.fresh('winkeep'), 'int32', [B, H, W], rawBytes(local)), flat: g.constF(idx, [B * H * W], 'winflat') };
  }
  const mask = new Float32Array(N);
  for (const k of sel.windowKeys) mask[k] = -Infinity;
  const maskT = g.constF(mask, [N], 'winmask');
  const summed = g.add(g.op('ReduceSum', [s.scores, g.constI64([2])], { keepdims: 0 }), maskT); // [B,H,N]
  const flat = g.reshape(summed, [B * H, 1, N]);
  const pad = Math.floor(sel.kernel / 2);
  const pooled =
    sel.pooling === 'maxpool'
      ? g.op('MaxPool', [flat], { kernel_shape: [sel.kernel], pads: [pad, pad], strides: [1] })
      : g.op('AveragePool', [flat], { kernel_shape: [sel.kernel], pads: [pad, pad], strides: [1], count_include_pad: 1 });
  // the window is always kept, so it never competes for the remaining places
  const ranked = g.add(pooled, maskT);
  const rest = sel.capacity - W;
  const top = g.opN('TopK', [ranked, g.constI64([rest])], { axis: -1, largest: 1, sorted: 1 }, 2)[1]; // int64 [B*H,1,rest]
  const winF = new Float32Array(B * H * W);
  for (let i = 0; i < B * H; i++) for (let j = 0; j < W; j++) winF[i * W + j] = sel.windowKeys[j];
  // int64 -> float as a Gather from 0..N-1, not a Cast: the WebGPU provider (1.30) runs a Cast from int64 on
  // the CPU, and that one node per selecting layer made every compressed scale wait 31 times for the GPU
  const topF = g.op('Gather', [keyPositions(g, N), top], { axis: 0 });
  const all = g.concat([topF, g.constF(winF, [B * H, 1, W], 'winkeys')], 2);
  // cache order: the kept indices sorted ascending
  const asc = g.opN('TopK', [all, g.constI64([sel.capacity])], { axis: -1, largest: 0, sorted: 1 }, 2)[0]; // float [B*H,1,cap]
  const flatIdx = g.reshape(g.add(asc, g.constF(offsets, [B * H, 1, 1], 'rowoff')), [B * H * sel.capacity]);
  return { local: g.op('Cast', [g.reshape(asc, [B, H, sel.capacity])], { to: INT32 }), flat: flatIdx };
}

const positionsByGraph = new WeakMap<Graph, Map<number, string>>();

/** 0, 1, ..., N-1 as float32, one initializer per graph and cache length. */
function keyPositions(g: Graph, N: number): string {
  const byN = positionsByGraph.get(g) ?? new Map<number, string>();
  positionsByGraph.set(g, byN);
  let name = byN.get(N);
  if (!name) {
    name = g.constF(
      Float32Array.from({ length: N }, (_, i) => i),
      [N],
      'keypos',
    );
    byN.set(N, name);
  }
  return name;
}

/** Gather kept entries per (row, head): cache [B, H, N, d] and flat float indices -> [B, H, K, d]. */
export function gatherKept(g: Graph, cache: string, flat: string, B: number, H: number, K: number, d: number): string {
  const rows = g.op('Gather', [g.reshape(cache, [-1, d]), g.op('Cast', [flat], { to: INT32 })], { axis: 0 });
  return g.reshape(rows, [B, H, K, d]);
}
