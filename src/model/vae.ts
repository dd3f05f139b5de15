/**
 * The BSQ-VAE's resampling of multi-scale codes between token-map sizes (the 'trilinear' interpolation
 * upstream applies with a time axis of 1, i.e. bilinear with align_corners=False). src/engine/vaeDecoder.ts
 * decodes the final codes to pixels.
 */

/** Source coordinate of output index i as torch computes it (align_corners=False), clamped at 0. */
function srcIndex(i: number, inSize: number, outSize: number): [number, number, number] {
  const scale = inSize / outSize;
  const x = Math.max(0, (i + 0.5) * scale - 0.5);
  const i0 = Math.min(Math.floor(x), inSize - 1);
  const i1 = Math.min(i0 + 1, inSize - 1);
  const l = x - i0;
  return [i0, i1, l];
}

/** [C, h, w] -> [C, H, W] bilinear, align_corners=False, no antialiasing (torch's default). */
export function interpolateBilinear(src: Float32Array, C: number, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(C * H * W);
  const ys = Array.from({ length: H }, (_, i) => srcIndex(i, h, H));
  const xs = Array.from({ length: W }, (_, j) => srcIndex(j, w, W));
  for (let c = 0; c < C; c++) {
    const base = c * h * w;
    for (let i = 0; i < H; i++) {
      const [y0, y1, ly] = ys[i];
      for (let j = 0; j < W; j++) {
        const [x0, x1, lx] = xs[j];
        const a = src[base + y0 * w + x0];
        const b = src[base + y0 * w + x1];
        const cc = src[base + y1 * w + x0];
        const d = src[base + y1 * w + x1];
        out[(c * H + i) * W + j] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * cc + lx * d);
      }
    }
  }
  return out;
}
