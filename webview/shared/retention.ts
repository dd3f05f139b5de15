/**
 * The token retention map of one layer/scale/row/head: the token map of every scale cached so far,
 * each drawn as its own h x w panel at the tokens' spatial positions, kept tokens in the accent colour
 * and evicted ones dimmed, with kept/total counts per scale. Panels wrap to the available width.
 *
 * Drawn on a canvas: a 1024x1024 run has 10,521 tokens, which as DOM nodes would make every
 * selection change slow. The SVG export builds its rects as text, never as live nodes.
 */
import type { ScaleShape } from '../../src/shared/types';
import { resolveColour } from './theme';

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

interface Panel {
  si: number;
  shape: ScaleShape;
  cell: number;
  x: number;
  y: number;
  w: number;
  label: string;
}

interface Layout {
  panels: Panel[];
  width: number;
  height: number;
}

const PAD = 10;
const LABEL = 16;
const FONT = '11px sans-serif';

function retentionStats(v: RetentionView): RetentionStats {
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

/** Cells shrink as maps grow so that every map is at most ~192 px, but never below 3 px (2 px + gap). */
const cellFor = (s: ScaleShape) => Math.max(3, Math.min(14, Math.floor(192 / Math.max(s.h, s.w))));

function layout(v: RetentionView, stats: RetentionStats, maxWidth: number, measure: (t: string) => number): Layout {
  const panels: Panel[] = [];
  let x = PAD;
  let y = PAD;
  let lineH = 0;
  let width = 0;
  v.schedule.slice(0, v.upTo + 1).forEach((shape, si) => {
    const cell = cellFor(shape);
    const st = stats.perScale[si];
    const label = `${shape.h}×${shape.w}  ${st.kept}/${st.total}`;
    const w = Math.max(shape.w * cell, Math.ceil(measure(label)) + 2);
    const h = LABEL + shape.h * cell;
    if (x > PAD && x + w + PAD > maxWidth) {
      x = PAD;
      y += lineH + PAD;
      lineH = 0;
    }
    panels.push({ si, shape, cell, x, y, w, label });
    x += w + PAD * 1.5;
    lineH = Math.max(lineH, h);
    width = Math.max(width, x);
  });
  return { panels, width: Math.ceil(width), height: Math.ceil(y + lineH + PAD) };
}

function coloursFor(el: Element) {
  return {
    kept: resolveColour('var(--skv-kept)', '#3794ff', el),
    evicted: resolveColour('var(--skv-evicted)', 'rgba(128,128,128,0.25)', el),
    text: resolveColour('var(--vscode-foreground)', '#cccccc', el),
    current: resolveColour('var(--skv-drafter)', '#d18616', el),
  };
}

function forEachToken(l: Layout, kept: Set<number>, fn: (x: number, y: number, size: number, isKept: boolean) => void): void {
  let pos = 0;
  for (const p of l.panels) {
    const size = p.cell - 1; // one pixel of gap keeps neighbouring tokens apart
    for (let i = 0; i < p.shape.h; i++) {
      for (let j = 0; j < p.shape.w; j++) {
        fn(p.x + j * p.cell, p.y + LABEL + i * p.cell, size, kept.has(pos));
        pos++;
      }
    }
  }
}

export function drawRetention(canvas: HTMLCanvasElement, v: RetentionView, maxWidth = 900): RetentionStats {
  const stats = retentionStats(v);
  const ctx = canvas.getContext('2d')!;
  ctx.font = FONT;
  const l = layout(v, stats, Math.max(240, maxWidth), (t) => ctx.measureText(t).width);
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.ceil(l.width * dpr);
  canvas.height = Math.ceil(l.height * dpr);
  canvas.style.width = `${l.width}px`;
  canvas.style.height = `${l.height}px`;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, l.width, l.height);
  const c = coloursFor(canvas);
  ctx.font = FONT;
  for (const p of l.panels) {
    ctx.fillStyle = p.si === v.upTo ? c.current : c.text;
    ctx.fillText(p.label, p.x, p.y + 11);
  }
  const keptSet = new Set(v.kept);
  forEachToken(l, keptSet, (x, y, s, k) => {
    ctx.fillStyle = k ? c.kept : c.evicted;
    ctx.fillRect(x, y, s, s);
  });
  canvas.setAttribute(
    'aria-label',
    `Retention map: ${stats.kept} of ${stats.total} tokens kept; per scale ${stats.perScale.map((s) => `${s.kept}/${s.total}`).join(', ')}`,
  );
  canvas.dataset.kept = String(stats.kept);
  canvas.dataset.total = String(stats.total);
  canvas.dataset.panels = String(l.panels.length);
  return stats;
}

/** The same picture as a standalone SVG document (theme colours resolved), for export. */
export function retentionSvg(v: RetentionView, ref: Element, title: string, maxWidth = 900): string {
  const stats = retentionStats(v);
  const measure = document.createElement('canvas').getContext('2d')!;
  measure.font = FONT;
  const l = layout(v, stats, maxWidth, (t) => measure.measureText(t).width);
  const c = coloursFor(ref);
  const bg = resolveColour('var(--vscode-editor-background)', '#1e1e1e', ref);
  const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);
  const out: string[] = [];
  const H = l.height + 20;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="retention" width="${l.width}" height="${H}" viewBox="0 0 ${l.width} ${H}">`);
  out.push(`<rect width="100%" height="100%" fill="${bg}"/>`);
  out.push(`<text x="${PAD}" y="14" fill="${c.text}" font-family="sans-serif" font-size="12">${esc(title)}</text>`);
  out.push('<g transform="translate(0,20)" font-family="sans-serif" font-size="11">');
  for (const p of l.panels)
    out.push(`<text x="${p.x}" y="${p.y + 11}" fill="${p.si === v.upTo ? c.current : c.text}">${esc(p.label)}</text>`);
  forEachToken(l, new Set(v.kept), (x, y, s, k) =>
    out.push(`<rect class="${k ? 'kept' : 'evicted'}" x="${x}" y="${y}" width="${s}" height="${s}" fill="${k ? c.kept : c.evicted}"/>`),
  );
  out.push('</g></svg>');
  return out.join('');
}

export function retentionCsv(v: RetentionView): string {
  const keptSet = new Set(v.kept);
  const lines = ['scale,row,col,token,kept'];
  let pos = 0;
  v.schedule.slice(0, v.upTo + 1).forEach((s, si) => {
    for (let i = 0; i < s.h; i++) for (let j = 0; j < s.w; j++, pos++) lines.push(`${si},${i},${j},${pos},${keptSet.has(pos) ? 1 : 0}`);
  });
  return lines.join('\n') + '\n';
}
