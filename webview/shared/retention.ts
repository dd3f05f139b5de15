/**
 * The token retention map of one layer/scale/head: the token grid of every scale cached so far, drawn
 * at its spatial positions (each scale's h x w map as its own panel), kept tokens highlighted and
 * evicted ones dimmed. Drawn on a canvas so a 64x64 map (4096 cells) redraws instantly.
 */
import type { ScaleShape } from '../../src/shared/types';
import { themeColour } from './theme';

export interface RetentionView {
  schedule: ScaleShape[];
  /** scales cached at this point (0..scaleIndex) */
  upTo: number;
  /** kept original token positions, ascending */
  kept: number[];
}

export interface RetentionStats {
  perScale: { scaleIndex: number; kept: number; total: number }[];
  kept: number;
  total: number;
}

export function retentionStats(v: RetentionView): RetentionStats {
  const keptSet = new Set(v.kept);
  let start = 0;
  const perScale = [];
  for (let si = 0; si <= v.upTo; si++) {
    const n = v.schedule[si].h * v.schedule[si].w;
    let k = 0;
    for (let t = start; t < start + n; t++) if (keptSet.has(t)) k++;
    perScale.push({ scaleIndex: si, kept: k, total: n });
    start += n;
  }
  return { perScale, kept: v.kept.length, total: start };
}

export function drawRetention(canvas: HTMLCanvasElement, v: RetentionView): RetentionStats {
  const keptSet = new Set(v.kept);
  const shapes = v.schedule.slice(0, v.upTo + 1);
  const cellFor = (s: ScaleShape) => Math.max(2, Math.min(14, Math.floor(132 / Math.max(s.h, s.w))));
  const pad = 10;
  const label = 14;
  const stats = retentionStats(v);
  const labels = shapes.map((s, si) => `${s.h}x${s.w} ${stats.perScale[si].kept}/${stats.perScale[si].total}`);
  const measure = canvas.getContext('2d')!;
  measure.font = '10px sans-serif';
  // each scale's panel is as wide as its map or its label, whichever is wider, so labels never overlap
  const panelW = shapes.map((s, si) => Math.max(s.w * cellFor(s), Math.ceil(measure.measureText(labels[si]).width) + 2));
  let width = pad;
  let height = 0;
  shapes.forEach((s, si) => {
    width += panelW[si] + pad;
    height = Math.max(height, s.h * cellFor(s));
  });
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.ceil(width * dpr);
  canvas.height = Math.ceil((height + label + pad * 2) * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height + label + pad * 2}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height + label + pad * 2);
  const keptColour = themeColour('--skv-kept', '#3794ff');
  const evictedColour = themeColour('--skv-evicted', 'rgba(128,128,128,0.25)');
  const textColour = themeColour('--vscode-foreground', '#ccc');
  ctx.font = '10px sans-serif';
  let x = pad;
  let pos = 0;
  shapes.forEach((s, si) => {
    const c = cellFor(s);
    ctx.fillStyle = textColour;
    ctx.fillText(labels[si], x, pad + 8);
    const y0 = pad + label;
    for (let i = 0; i < s.h; i++) {
      for (let j = 0; j < s.w; j++) {
        ctx.fillStyle = keptSet.has(pos) ? keptColour : evictedColour;
        ctx.fillRect(x + j * c, y0 + i * c, Math.max(1, c - (c > 3 ? 1 : 0)), Math.max(1, c - (c > 3 ? 1 : 0)));
        pos++;
      }
    }
    x += panelW[si] + pad;
  });
  canvas.setAttribute('aria-label', `Retention map: ${stats.kept} of ${stats.total} tokens kept`);
  canvas.dataset.kept = String(stats.kept);
  canvas.dataset.total = String(stats.total);
  return stats;
}
