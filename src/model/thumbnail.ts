/**
 * Small copies of generated images for places that store them inline: a notebook's run output is
 * saved into the .ipynb, and VS Code refuses to open notebooks over 10 MB in remote windows (SSH, WSL,
 * code-server), which a few 1024x1024 runs with their retention records would reach.
 */

/** the long side of a thumbnail, in pixels */
const THUMBNAIL_SIDE = 256;

/**
 * Box-filter downscale of planar [3, H, W] 8-bit values by the smallest integer factor that brings
 * the long side to at most maxSide; each output pixel is the rounded mean of its factor x factor block
 * (edge blocks average what they cover).
 */
export function downscaleChw(
  chw: Uint8Array,
  width: number,
  height: number,
  maxSide = THUMBNAIL_SIDE,
): { data: Uint8Array; width: number; height: number } {
  if (chw.length !== 3 * width * height) throw new Error(`downscaleChw: ${chw.length} values for ${width}x${height} RGB`);
  const f = Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
  if (f === 1) return { data: chw, width, height };
  const w = Math.ceil(width / f);
  const h = Math.ceil(height / f);
  const out = new Uint8Array(3 * w * h);
  for (let c = 0; c < 3; c++) {
    const src = c * width * height;
    for (let y = 0; y < h; y++) {
      const y1 = Math.min(height, (y + 1) * f);
      for (let x = 0; x < w; x++) {
        const x1 = Math.min(width, (x + 1) * f);
        let sum = 0;
        for (let yy = y * f; yy < y1; yy++) for (let xx = x * f; xx < x1; xx++) sum += chw[src + yy * width + xx];
        out[c * w * h + y * w + x] = Math.round(sum / ((y1 - y * f) * (x1 - x * f)));
      }
    }
  }
  return { data: out, width: w, height: h };
}
