/**
 * Infinity's 2-D RoPE tables ("rope2d_normalized_by_hw = 2"): each scale's (i, j) token takes the
 * rotation of the position it covers on the 1M schedule's final grid of the same aspect template, so
 * coarse and fine scales share a coordinate frame. Half of each head's rotary pairs encode the row,
 * half the column.
 */
import type { ScaleShape } from '../shared/types';

/** torch.round rounds half to even */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface RopeTable {
  cos: Float32Array; // [L, d/2]
  sin: Float32Array;
}

/**
 * @param headDim per-head channels (d); tables are [h*w, d/2]
 * @param finalGrid the last scale of the aspect template's 1M schedule (64x64 for 1:1)
 */
export function ropeForScale(shape: ScaleShape, finalGrid: ScaleShape, headDim: number, base = 10000): RopeTable {
  const half = headDim / 2; // rotary pairs
  const quarter = half / 2; // frequencies per axis
  const invFreq = new Float64Array(quarter);
  for (let i = 0; i < quarter; i++) invFreq[i] = 1 / Math.pow(base, (2 * i) / half);
  const L = shape.h * shape.w;
  const cos = new Float32Array(L * half);
  const sin = new Float32Array(L * half);
  for (let i = 0; i < shape.h; i++) {
    const y = roundHalfEven(i * (finalGrid.h / shape.h));
    for (let j = 0; j < shape.w; j++) {
      const x = roundHalfEven(j * (finalGrid.w / shape.w));
      const row = (i * shape.w + j) * half;
      for (let f = 0; f < quarter; f++) {
        const ay = y * invFreq[f];
        const ax = x * invFreq[f];
        cos[row + f] = Math.cos(ay);
        sin[row + f] = Math.sin(ay);
        cos[row + quarter + f] = Math.cos(ax);
        sin[row + quarter + f] = Math.sin(ax);
      }
    }
  }
  return { cos, sin };
}
