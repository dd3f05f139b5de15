/**
 * Image fidelity between a compressed run and its full-cache reference: PSNR and SSIM on 8-bit RGB,
 * and the agreement of the sampled bits per scale.
 */

/** images as [3, H, W] in [-1, 1] → 8-bit values as the saved PNGs hold them */
export function toUint8(chw: Float32Array): Uint8Array {
  const out = new Uint8Array(chw.length);
  for (let i = 0; i < chw.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, (chw[i] + 1) / 2)) * 255);
  return out;
}

/** PSNR in dB over all channels; Infinity for identical images. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: sizes differ (${a.length} vs ${b.length})`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const e = a[i] - b[i];
    se += e * e;
  }
  if (se === 0) return Infinity;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

/**
 * Mean SSIM (Wang et al. 2004) with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, per
 * channel and averaged, over [C, H, W] 8-bit planes. 'valid' windows only, like skimage's default.
 */
export function ssim(a: Uint8Array, b: Uint8Array, C: number, H: number, W: number): number {
  const win = 11;
  const sigma = 1.5;
  const g = new Float64Array(win);
  let gs = 0;
  for (let i = 0; i < win; i++) {
    g[i] = Math.exp(-((i - 5) ** 2) / (2 * sigma * sigma));
    gs += g[i];
  }
  for (let i = 0; i < win; i++) g[i] /= gs;
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  if (H < win || W < win) throw new Error(`ssim: image ${W}x${H} is smaller than the ${win}x${win} window`);
  const Ho = H - win + 1;
  const Wo = W - win + 1;
  const blur = (src: Float64Array): Float64Array => {
    const tmp = new Float64Array(H * Wo);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < Wo; x++) {
        let s = 0;
        for (let k = 0; k < win; k++) s += g[k] * src[y * W + x + k];
        tmp[y * Wo + x] = s;
      }
    const out = new Float64Array(Ho * Wo);
    for (let y = 0; y < Ho; y++)
      for (let x = 0; x < Wo; x++) {
        let s = 0;
        for (let k = 0; k < win; k++) s += g[k] * tmp[(y + k) * Wo + x];
        out[y * Wo + x] = s;
      }
    return out;
  };
  let total = 0;
  for (let c = 0; c < C; c++) {
    const pa = new Float64Array(H * W);
    const pb = new Float64Array(H * W);
    for (let i = 0; i < H * W; i++) {
      pa[i] = a[c * H * W + i];
      pb[i] = b[c * H * W + i];
    }
    const sq = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]);
    const ma = blur(pa);
    const mb = blur(pb);
    const saa = blur(sq(pa, pa));
    const sbb = blur(sq(pb, pb));
    const sab = blur(sq(pa, pb));
    let s = 0;
    for (let i = 0; i < Ho * Wo; i++) {
      const va = saa[i] - ma[i] * ma[i];
      const vb = sbb[i] - mb[i] * mb[i];
      const cov = sab[i] - ma[i] * mb[i];
      s += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) / ((ma[i] ** 2 + mb[i] ** 2 + c1) * (va + vb + c2));
    }
    total += s / (Ho * Wo);
  }
  return total / C;
}

/** fraction of equal bits */
export function agreement(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`agreement: sizes differ (${a.length} vs ${b.length})`);
  if (a.length === 0) return 1;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
