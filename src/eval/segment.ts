/**
 * Foreground objects of an image. The background is modelled per row (the dataset's backgrounds,
 * flat, horizons and vertical gradients, are constant along a row) from the left and right border
 * strips, median-filtered down the image so a stray object pixel on the border cannot move it. Pixels
 * far from their row's background are foreground; 4-connected foreground regions are the components.
 */
import type { RgbImage } from './image';

export interface Component {
  area: number;
  /** inclusive bounding box in pixels */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** flat pixel indices (y * width + x) */
  pixels: Int32Array;
}

/** share of the image side the border strips take */
const BORDER = 0.03;
/** RGB distance from the row's background above which a pixel is foreground */
const FOREGROUND_DISTANCE = 60;

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** the background colour of every row, [H * 3] */
export function backgroundRows(img: RgbImage): Float32Array {
  const { width: W, height: H, data } = img;
  const b = Math.max(2, Math.round(BORDER * Math.min(W, H)));
  const raw = new Float32Array(3 * H);
  const ch: number[][] = [[], [], []];
  for (let y = 0; y < H; y++) {
    for (const c of ch) c.length = 0;
    for (let k = 0; k < b; k++) {
      for (const x of [k, W - 1 - k]) {
        const p = 3 * (y * W + x);
        for (let c = 0; c < 3; c++) ch[c].push(data[p + c]);
      }
    }
    for (let c = 0; c < 3; c++) raw[3 * y + c] = median(ch[c]);
  }
  // a vertical median keeps horizon steps sharp and drops short runs of rows an object touches
  const half = Math.max(1, Math.round(0.025 * H));
  const out = new Float32Array(3 * H);
  const win: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let c = 0; c < 3; c++) {
      win.length = 0;
      for (let t = Math.max(0, y - half); t <= Math.min(H - 1, y + half); t++) win.push(raw[3 * t + c]);
      out[3 * y + c] = median(win);
    }
  }
  return out;
}

export function foregroundMask(img: RgbImage, bg: Float32Array, threshold = FOREGROUND_DISTANCE): Uint8Array {
  const { width: W, height: H, data } = img;
  const mask = new Uint8Array(W * H);
  const t2 = threshold * threshold;
  for (let y = 0; y < H; y++) {
    const br = bg[3 * y];
    const bgg = bg[3 * y + 1];
    const bb = bg[3 * y + 2];
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const dr = data[3 * p] - br;
      const dg = data[3 * p + 1] - bgg;
      const db = data[3 * p + 2] - bb;
      if (dr * dr + dg * dg + db * db > t2) mask[p] = 1;
    }
  }
  return mask;
}

/** 4-connected components of a mask, largest first */
export function components(mask: Uint8Array, W: number, H: number): Component[] {
  const seen = new Uint8Array(W * H);
  const stack = new Int32Array(W * H);
  const out: Component[] = [];
  for (let start = 0; start < W * H; start++) {
    if (!mask[start] || seen[start]) continue;
    let top = 0;
    let n = 0;
    stack[top++] = start;
    seen[start] = 1;
    const pixels: number[] = [];
    let x0 = W;
    let y0 = H;
    let x1 = -1;
    let y1 = -1;
    while (top) {
      const p = stack[--top];
      pixels.push(p);
      n++;
      const x = p % W;
      const y = (p - x) / W;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (x > 0 && mask[p - 1] && !seen[p - 1]) {
        seen[p - 1] = 1;
        stack[top++] = p - 1;
      }
      if (x < W - 1 && mask[p + 1] && !seen[p + 1]) {
        seen[p + 1] = 1;
        stack[top++] = p + 1;
      }
      if (y > 0 && mask[p - W] && !seen[p - W]) {
        seen[p - W] = 1;
        stack[top++] = p - W;
      }
      if (y < H - 1 && mask[p + W] && !seen[p + W]) {
        seen[p + W] = 1;
        stack[top++] = p + W;
      }
    }
    out.push({ area: n, x0, y0, x1, y1, pixels: Int32Array.from(pixels) });
  }
  return out.sort((a, b) => b.area - a.area);
}
