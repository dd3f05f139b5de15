/**
 * One layer's KV cache: keys and values [rows, heads, len, headDim] as onnxruntime tensors (on the
 * device where the provider allows), plus the original token position of every cached entry per
 * (row, head) — ScaleKV evicts per head, so positions differ between heads once eviction starts.
 */
import * as ort from 'onnxruntime-node';
import type { Selection } from './policy';

export interface Gatherer {
  /** keep entries of k/v per (row, head); returns new tensors [rows, heads, perHead, d] */
  gather(
    k: ort.Tensor,
    v: ort.Tensor,
    sel: Selection,
    rows: number,
    heads: number,
    len: number,
    d: number,
  ): Promise<[ort.Tensor, ort.Tensor]>;
}

/** Gather on the host for CPU tensors. */
export const cpuGatherer: Gatherer = {
  async gather(k, v, sel, rows, heads, len, d) {
    const K = sel.perHead;
    const kd = k.data as Float32Array;
    const vd = v.data as Float32Array;
    const ko = new Float32Array(rows * heads * K * d);
    const vo = new Float32Array(rows * heads * K * d);
    for (let rh = 0; rh < rows * heads; rh++) {
      for (let j = 0; j < K; j++) {
        const src = (rh * len + sel.keep[rh * K + j]) * d;
        const dst = (rh * K + j) * d;
        ko.set(kd.subarray(src, src + d), dst);
        vo.set(vd.subarray(src, src + d), dst);
      }
    }
    return [new ort.Tensor('float32', ko, [rows, heads, K, d]), new ort.Tensor('float32', vo, [rows, heads, K, d])];
  },
};

/** Gather on the device with a small graph (kernels/graphs/infinity.ts buildKvGatherGraph). */
export function deviceGatherer(session: ort.InferenceSession): Gatherer {
  return {
    async gather(k, v, sel, rows, heads, len, d) {
      const K = sel.perHead;
      const idx = new BigInt64Array(rows * heads * K);
      for (let rh = 0; rh < rows * heads; rh++) for (let j = 0; j < K; j++) idx[rh * K + j] = BigInt(rh * len + sel.keep[rh * K + j]);
      const r = await session.run({
        k,
        v,
        idx: new ort.Tensor('int64', idx, [idx.length]),
        out_shape: new ort.Tensor('int64', BigInt64Array.from([rows, heads, K, d].map(BigInt)), [4]),
      });
      return [r.k_kept, r.v_kept];
    },
  };
}

export class LayerCache {
  k: ort.Tensor;
  v: ort.Tensor;
  len = 0;
  /** [rows][heads][len] original token positions */
  positions: Int32Array = new Int32Array(0);

  constructor(
    readonly rows: number,
    readonly heads: number,
    readonly headDim: number,
  ) {
    this.k = new ort.Tensor('float32', new Float32Array(0), [rows, heads, 0, headDim]);
    this.v = new ort.Tensor('float32', new Float32Array(0), [rows, heads, 0, headDim]);
  }

  /** adopt the block's extended cache (old entries + this scale's `added` tokens starting at `firstPos`) */
  extend(kAll: ort.Tensor, vAll: ort.Tensor, added: number, firstPos: number): void {
    const RH = this.rows * this.heads;
    const newLen = this.len + added;
    const pos = new Int32Array(RH * newLen);
    for (let rh = 0; rh < RH; rh++) {
      pos.set(this.positions.subarray(rh * this.len, (rh + 1) * this.len), rh * newLen);
      for (let j = 0; j < added; j++) pos[rh * newLen + this.len + j] = firstPos + j;
    }
    this.disposeTensors();
    this.k = kAll;
    this.v = vAll;
    this.positions = pos;
    this.len = newLen;
  }

  /**
   * Adopt a cache that a fused graph already extended by `added` tokens and, when `keep` is given,
   * evicted to keep's entries ([rows][heads][perHead] indices into the extended cache). k and v are
   * null after the last scale, when no later scale reads them: only positions and length remain.
   */
  adopt(k: ort.Tensor | null, v: ort.Tensor | null, added: number, firstPos: number, keep: Selection | null): void {
    const RH = this.rows * this.heads;
    const ext = this.len + added;
    const pos = new Int32Array(RH * (keep ? keep.perHead : ext));
    for (let rh = 0; rh < RH; rh++) {
      const old = (j: number) => (j < this.len ? this.positions[rh * this.len + j] : firstPos + j - this.len);
      if (keep) for (let j = 0; j < keep.perHead; j++) pos[rh * keep.perHead + j] = old(keep.keep[rh * keep.perHead + j]);
      else for (let j = 0; j < ext; j++) pos[rh * ext + j] = old(j);
    }
    this.disposeTensors();
    this.k = k ?? new ort.Tensor('float32', new Float32Array(0), [this.rows, this.heads, 0, this.headDim]);
    this.v = v ?? new ort.Tensor('float32', new Float32Array(0), [this.rows, this.heads, 0, this.headDim]);
    this.positions = pos;
    this.len = keep ? keep.perHead : ext;
  }

  async evict(sel: Selection, gatherer: Gatherer): Promise<void> {
    const RH = this.rows * this.heads;
    const K = sel.perHead;
    const [k, v] = await gatherer.gather(this.k, this.v, sel, this.rows, this.heads, this.len, this.headDim);
    const pos = new Int32Array(RH * K);
    for (let rh = 0; rh < RH; rh++) for (let j = 0; j < K; j++) pos[rh * K + j] = this.positions[rh * this.len + sel.keep[rh * K + j]];
    this.disposeTensors();
    this.k = k;
    this.v = v;
    this.positions = pos;
    this.len = K;
  }

  /** kept positions are exactly 0..len-1 (nothing evicted yet) */
  isIdentity(): boolean {
    const RH = this.rows * this.heads;
    for (let rh = 0; rh < RH; rh++) for (let j = 0; j < this.len; j++) if (this.positions[rh * this.len + j] !== j) return false;
    return true;
  }

  bytes(bytesPerElement = 4): number {
    return 2 * this.rows * this.heads * this.len * this.headDim * bytesPerElement;
  }

  private disposeTensors(): void {
    // device tensors hold GPU memory until disposed; CPU tensors are garbage collected
    if (this.k.location !== 'cpu') this.k.dispose();
    if (this.v.location !== 'cpu') this.v.dispose();
  }

  dispose(): void {
    this.disposeTensors();
  }
}

/** Bytes of a full (never evicted) cache over all layers after `tokens` tokens. */
export function fullCacheBytes(
  layers: number,
  rows: number,
  heads: number,
  headDim: number,
  tokens: number,
  bytesPerElement: number,
): number {
  return 2 * layers * rows * heads * headDim * tokens * bytesPerElement;
}
