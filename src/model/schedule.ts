/**
 * Infinity's dynamic-resolution scale schedules: for each aspect-ratio template (h/w) the token-map
 * sizes of 13 scales, and the prefixes of 7/10/12/13 scales used for the 0.06M/0.25M/0.60M/1M pixel
 * budgets. Tokens are 16x16 pixels (the VAE's stride).
 */
import { ScaleKVError } from '../shared/errors';
import type { ScaleShape } from '../shared/types';

const RATIO_TO_HW: Record<string, [number, number][]> = {
  '1.000': [
    [1, 1],
    [2, 2],
    [4, 4],
    [6, 6],
    [8, 8],
    [12, 12],
    [16, 16],
    [20, 20],
    [24, 24],
    [32, 32],
    [40, 40],
    [48, 48],
    [64, 64],
  ],
  '1.250': [
    [1, 1],
    [2, 2],
    [3, 3],
    [5, 4],
    [10, 8],
    [15, 12],
    [20, 16],
    [25, 20],
    [30, 24],
    [35, 28],
    [45, 36],
    [55, 44],
    [70, 56],
  ],
  '1.333': [
    [1, 1],
    [2, 2],
    [4, 3],
    [8, 6],
    [12, 9],
    [16, 12],
    [20, 15],
    [24, 18],
    [28, 21],
    [36, 27],
    [48, 36],
    [60, 45],
    [72, 54],
  ],
  '1.500': [
    [1, 1],
    [2, 2],
    [3, 2],
    [6, 4],
    [9, 6],
    [15, 10],
    [21, 14],
    [27, 18],
    [33, 22],
    [39, 26],
    [48, 32],
    [63, 42],
    [78, 52],
  ],
  '1.750': [
    [1, 1],
    [2, 2],
    [3, 3],
    [7, 4],
    [11, 6],
    [14, 8],
    [21, 12],
    [28, 16],
    [35, 20],
    [42, 24],
    [56, 32],
    [70, 40],
    [84, 48],
  ],
  '2.000': [
    [1, 1],
    [2, 2],
    [4, 2],
    [6, 3],
    [10, 5],
    [16, 8],
    [22, 11],
    [30, 15],
    [38, 19],
    [46, 23],
    [60, 30],
    [74, 37],
    [90, 45],
  ],
  '2.500': [
    [1, 1],
    [2, 2],
    [5, 2],
    [10, 4],
    [15, 6],
    [20, 8],
    [25, 10],
    [30, 12],
    [40, 16],
    [50, 20],
    [65, 26],
    [80, 32],
    [100, 40],
  ],
  '3.000': [
    [1, 1],
    [2, 2],
    [6, 2],
    [9, 3],
    [15, 5],
    [21, 7],
    [27, 9],
    [36, 12],
    [45, 15],
    [54, 18],
    [72, 24],
    [90, 30],
    [111, 37],
  ],
};

export const RESOLUTIONS: Record<string, number> = { '0.06M': 7, '0.25M': 10, '0.60M': 12, '1M': 13 };

interface Template {
  ratio: number;
  hws: [number, number][];
}

/** All templates including the transposed (w > h) ones, keyed like upstream (int(1/r*1000)/1000). */
const TEMPLATES: Template[] = (() => {
  const out: Template[] = [];
  for (const [k, hws] of Object.entries(RATIO_TO_HW)) {
    const r = Number(k);
    out.push({ ratio: r, hws });
    if (r !== 1) out.push({ ratio: Math.floor((1 / r) * 1000) / 1000, hws: hws.map(([h, w]) => [w, h] as [number, number]) });
  }
  return out;
})();

function nearestTemplate(hDivW: number): Template {
  if (!Number.isFinite(hDivW) || hDivW <= 0) {
    throw new ScaleKVError('E_RESOLUTION', `Aspect ratio h/w must be a positive number, got ${hDivW}.`);
  }
  const ratios = TEMPLATES.map((t) => t.ratio);
  const min = Math.min(...ratios);
  const max = Math.max(...ratios);
  if (hDivW < min / 1.5 || hDivW > max * 1.5) {
    throw new ScaleKVError(
      'E_RESOLUTION',
      `Aspect ratio h/w = ${hDivW} is outside what Infinity supports (${min.toFixed(3)} to ${max.toFixed(3)}).`,
    );
  }
  let best = TEMPLATES[0];
  for (const t of TEMPLATES) if (Math.abs(t.ratio - hDivW) < Math.abs(best.ratio - hDivW)) best = t;
  return best;
}

export function scaleSchedule(hDivW: number, resolution: string): ScaleShape[] {
  const n = RESOLUTIONS[resolution];
  if (!n) {
    throw new ScaleKVError('E_RESOLUTION', `Unknown resolution '${resolution}'. Use one of ${Object.keys(RESOLUTIONS).join(', ')}.`);
  }
  return nearestTemplate(hDivW)
    .hws.slice(0, n)
    .map(([h, w]) => ({ h, w }));
}

/** whether two schedules have the same token-map sizes, scale by scale */
export function sameSchedule(a: ScaleShape[], b: ScaleShape[]): boolean {
  return a.length === b.length && a.every((s, i) => s.h === b[i].h && s.w === b[i].w);
}

export function totalTokens(schedule: ScaleShape[]): number {
  return schedule.reduce((a, s) => a + s.h * s.w, 0);
}

/** Cumulative token counts after each scale (1, 5, 21, ... for 1:1). */
export function cumulativeTokens(schedule: ScaleShape[]): number[] {
  let acc = 0;
  return schedule.map((s) => (acc += s.h * s.w));
}

/** Parse "1024x1024", "1:1", "16:9", or a number, into h/w. */
export function parseAspect(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^\s*(\d+(?:\.\d+)?)\s*[x:]\s*(\d+(?:\.\d+)?)\s*$/.exec(s);
  if (m) {
    // "WxH" / "W:H" as people write image sizes: width first
    const w = Number(m[1]);
    const h = Number(m[2]);
    if (w > 0 && h > 0) return h / w;
  }
  const n = Number(s);
  if (Number.isFinite(n) && n > 0) return n;
  throw new ScaleKVError('E_RESOLUTION', `Cannot read aspect ratio '${s}'. Use e.g. 1:1, 16:9 (width:height) or a number h/w.`);
}
