/**
 * Memory and fidelity figures: KV bytes per scale (full cache outlined, held filled), bytes held per
 * layer at the selected scale against what a full cache would hold there, token agreement with the
 * full-cache reference per scale, and the image metrics. Each figure is one SVG with its own key.
 */
import * as d3 from 'd3';
import type { FidelityReport, KvReport } from '../../src/shared/types';
import { toCsv } from './data';

const MiB = 2 ** 20;
const W = 440;
type Svg = d3.Selection<SVGSVGElement, unknown, null, undefined>;

function frame(host: HTMLElement, cls: string, h: number, label: string): Svg {
  host.replaceChildren();
  return d3
    .select(host)
    .append('svg')
    .attr('class', `chart ${cls}`)
    .attr('xmlns', 'http://www.w3.org/2000/svg')
    .attr('width', W)
    .attr('height', h)
    .attr('viewBox', `0 0 ${W} ${h}`)
    .attr('role', 'img')
    .attr('aria-label', label);
}

type Margin = { l: number; r: number; t: number; b: number };

/** the bottom and left axes, the value's title above the left axis and the category's at the bottom right */
function axes(
  svg: Svg,
  h: number,
  m: Margin,
  bottom: d3.Axis<number>,
  left: d3.Axis<d3.NumberValue>,
  valueTitle: string,
  categoryTitle: string,
): void {
  svg
    .append('g')
    .attr('class', 'axis')
    .attr('transform', `translate(0,${h - m.b})`)
    .call(bottom);
  svg.append('g').attr('class', 'axis').attr('transform', `translate(${m.l},0)`).call(left);
  svg.append('text').attr('class', 'axis-title').attr('x', 0).attr('y', 11).text(valueTitle);
  svg
    .append('text')
    .attr('class', 'axis-title')
    .attr('x', W - m.r)
    .attr('y', h - 2)
    .attr('text-anchor', 'end')
    .text(categoryTitle);
}

function key(svg: Svg, x: number, y: number, items: [string, string][]): void {
  const g = svg.append('g').attr('class', 'key').attr('transform', `translate(${x},${y})`);
  let at = 0;
  for (const [cls, label] of items) {
    g.append('rect').attr('class', cls).attr('x', at).attr('y', -8).attr('width', 10).attr('height', 10);
    g.append('text')
      .attr('x', at + 14)
      .attr('y', 1)
      .text(label);
    at += 14 + label.length * 5.6 + 12; // no layout pass for an estimate that only spaces the key
  }
}

const mib = (b: number) => (b / MiB < 10 ? (b / MiB).toFixed(2) : (b / MiB).toFixed(1));

export function drawMemory(
  host: HTMLElement,
  kv: KvReport,
  selectedScale: number | null,
  onSelectScale?: (si: number) => void,
): SVGSVGElement {
  const H = 190;
  const m = { l: 48, r: 10, t: 34, b: 30 };
  const held = d3.sum(kv.perScale, (d) => d.heldBytes);
  const full = d3.sum(kv.perScale, (d) => d.fullBytes);
  const svg = frame(
    host,
    'memory',
    H,
    `KV cache per scale; overall ${full ? ((100 * held) / full).toFixed(1) : '0'}% of the full cache held`,
  );
  const data = kv.perScale;
  const x = d3
    .scaleBand<number>()
    .domain(data.map((d) => d.scaleIndex))
    .range([m.l, W - m.r])
    .padding(0.2);
  const y = d3
    .scaleLinear()
    .domain([0, d3.max(data, (d) => Math.max(d.fullBytes, d.peakBytes) / MiB) || 1])
    .nice()
    .range([H - m.b, m.t]);
  axes(
    svg,
    H,
    m,
    d3.axisBottom(x).tickSizeOuter(0),
    d3.axisLeft(y).ticks(4),
    `KV cache per scale, MiB (${kv.bytesPerElement * 8}-bit as run, ${kv.batchRows} rows)`,
    'scale',
  );
  key(svg, m.l, 27, [
    ['bar-full', 'full cache'],
    ['bar-held', 'held'],
    ['bar-held selected', 'selected scale'],
  ]);
  svg
    .append('g')
    .selectAll('rect')
    .data(data)
    .join('rect')
    .attr('class', 'bar-full')
    .attr('x', (d) => x(d.scaleIndex)!)
    .attr('width', x.bandwidth())
    .attr('y', (d) => y(d.fullBytes / MiB))
    .attr('height', (d) => y(0) - y(d.fullBytes / MiB));
  svg
    .append('g')
    .selectAll('rect')
    .data(data)
    .join('rect')
    .attr('class', (d) => `bar-held${d.scaleIndex === selectedScale ? ' selected' : ''}`)
    .attr('data-scale', (d) => d.scaleIndex)
    .attr('x', (d) => x(d.scaleIndex)!)
    .attr('width', x.bandwidth())
    .attr('y', (d) => y(d.heldBytes / MiB))
    .attr('height', (d) => Math.max(1, y(0) - y(d.heldBytes / MiB)))
    .on('click', (_, d) => onSelectScale?.(d.scaleIndex))
    .append('title')
    .text(
      (d) =>
        `scale ${d.scaleIndex}: held ${mib(d.heldBytes)} MiB of ${mib(d.fullBytes)} MiB (${d.fullBytes ? ((100 * d.heldBytes) / d.fullBytes).toFixed(1) : 0}%), peak while running ${mib(d.peakBytes)} MiB`,
    );
  return svg.node()!;
}

export function drawLayerMemory(host: HTMLElement, kv: KvReport, si: number): SVGSVGElement | null {
  const s = kv.perScale[si];
  if (!s) {
    host.replaceChildren();
    return null;
  }
  const H = 190;
  const m = { l: 48, r: 10, t: 34, b: 30 };
  const layers = s.perLayerHeld.length;
  const fullPerLayer = layers ? s.fullBytes / layers : 0;
  const svg = frame(host, 'layer-memory', H, `KV bytes held per layer after scale ${si}`);
  const x = d3
    .scaleBand<number>()
    .domain(d3.range(layers))
    .range([m.l, W - m.r])
    .padding(0.15);
  const y = d3
    .scaleLinear()
    .domain([0, Math.max(fullPerLayer, d3.max(s.perLayerHeld) ?? 0) / MiB || 1])
    .nice()
    .range([H - m.b, m.t]);
  const every = Math.ceil(layers / 16);
  axes(
    svg,
    H,
    m,
    d3
      .axisBottom(x)
      .tickValues(x.domain().filter((i) => i % every === 0))
      .tickSizeOuter(0),
    d3.axisLeft(y).ticks(4),
    `After scale ${si}: MiB held per layer`,
    'layer',
  );
  key(svg, m.l, 27, [
    ['bar-held', 'held'],
    ['line-full', `full cache (${mib(fullPerLayer)})`],
  ]);
  svg
    .append('g')
    .selectAll('rect')
    .data(s.perLayerHeld)
    .join('rect')
    .attr('class', 'bar-held')
    .attr('x', (_, i) => x(i)!)
    .attr('width', x.bandwidth())
    .attr('y', (b) => y(b / MiB))
    .attr('height', (b) => Math.max(1, y(0) - y(b / MiB)))
    .append('title')
    .text((b, i) => `layer ${i}: ${s.perLayerTokens[i]} tokens, ${mib(b)} MiB`);
  svg
    .append('line')
    .attr('class', 'line-full')
    .attr('x1', m.l)
    .attr('x2', W - m.r)
    .attr('y1', y(fullPerLayer / MiB))
    .attr('y2', y(fullPerLayer / MiB));
  return svg.node();
}

export function drawAgreement(host: HTMLElement, f: FidelityReport | undefined, selectedScale: number | null): SVGSVGElement | null {
  if (!f || !f.tokenAgreement.length) {
    host.replaceChildren();
    return null;
  }
  const H = 170;
  const m = { l: 48, r: 10, t: 24, b: 30 };
  const svg = frame(host, 'agreement', H, 'Token agreement with the full-cache run per scale');
  const data = f.tokenAgreement;
  const x = d3
    .scaleBand<number>()
    .domain(data.map((d) => d.scaleIndex))
    .range([m.l, W - m.r])
    .padding(0.2);
  const lo = Math.min(0.9, d3.min(data, (d) => d.agreement) ?? 0.9);
  const y = d3
    .scaleLinear()
    .domain([Math.floor(lo * 10) / 10, 1])
    .range([H - m.b, m.t]);
  axes(
    svg,
    H,
    m,
    d3.axisBottom(x).tickSizeOuter(0),
    d3.axisLeft(y).ticks(4, '.0%'),
    'Sampled bits equal to the full-cache run, per scale',
    'scale',
  );
  const line = d3
    .line<{ scaleIndex: number; agreement: number }>()
    .x((d) => x(d.scaleIndex)! + x.bandwidth() / 2)
    .y((d) => y(d.agreement));
  svg.append('path').attr('class', 'line-agreement').attr('d', line(data));
  svg
    .append('g')
    .selectAll('circle')
    .data(data)
    .join('circle')
    .attr('class', (d) => `dot${d.scaleIndex === selectedScale ? ' selected' : ''}`)
    .attr('cx', (d) => x(d.scaleIndex)! + x.bandwidth() / 2)
    .attr('cy', (d) => y(d.agreement))
    .attr('r', 3.5)
    .append('title')
    .text((d) => `scale ${d.scaleIndex}: ${(100 * d.agreement).toFixed(2)}% of bits equal`);
  return svg.node();
}

export function fidelityTable(f: FidelityReport | undefined): HTMLElement {
  const div = document.createElement('div');
  div.className = 'fidelity';
  if (!f) {
    div.classList.add('note');
    div.textContent = 'No fidelity report for this run. Run "ScaleKV: Compare Policies" to measure it against the full cache.';
    return div;
  }
  const fmt = (v: number | null, d = 2) => (v === null ? 'n/a' : v === Infinity ? '∞' : Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  // a VS Code Elements table (needs webview/shared/elements.ts loaded): roles table/row/columnheader/cell
  const table = document.createElement('vscode-table');
  table.setAttribute('bordered-rows', '');
  table.setAttribute('zebra', '');
  table.setAttribute('aria-label', 'Fidelity against the full cache');
  const head = document.createElement('vscode-table-header');
  head.slot = 'header';
  for (const h of ['prompt', 'seed', 'PSNR (dB)', 'SSIM', 'LPIPS'])
    head.append(Object.assign(document.createElement('vscode-table-header-cell'), { textContent: h }));
  const body = document.createElement('vscode-table-body');
  body.slot = 'body';
  for (const im of f.images) {
    const r = document.createElement('vscode-table-row');
    for (const v of [im.prompt, String(im.seed), fmt(im.psnr), fmt(im.ssim, 4), fmt(im.lpips, 4)])
      r.append(Object.assign(document.createElement('vscode-table-cell'), { textContent: v }));
    body.append(r);
  }
  table.append(head, body);
  const p = document.createElement('p');
  p.textContent = `Against ${f.referenceRun}: KV held ${(100 * f.kvHeldRatio).toFixed(1)}% of the full cache, peak ${(100 * f.kvPeakRatio).toFixed(1)}%.${f.lpipsNote ? ` ${f.lpipsNote}` : ''}`;
  div.append(table, p);
  return div;
}

export function memoryCsv(kv: KvReport): string {
  const rows: unknown[][] = [];
  for (const s of kv.perScale)
    s.perLayerHeld.forEach((b, l) =>
      rows.push([s.scaleIndex, l, s.perLayerTokens[l], b, s.fullBytes / s.perLayerHeld.length, s.heldBytes, s.fullBytes, s.peakBytes]),
    );
  return toCsv(
    ['scale', 'layer', 'tokens', 'held_bytes', 'full_bytes_layer', 'held_bytes_all_layers', 'full_bytes_all_layers', 'peak_bytes'],
    rows,
  );
}

export function fidelityCsv(f: FidelityReport): string {
  const rows: unknown[][] = [];
  for (const im of f.images) rows.push(['image', im.prompt, im.seed, im.psnr, im.ssim, im.lpips ?? '', '', '']);
  for (const t of f.tokenAgreement) rows.push(['scale', '', '', '', '', '', t.scaleIndex, t.agreement]);
  return toCsv(['kind', 'prompt', 'seed', 'psnr', 'ssim', 'lpips', 'scale', 'token_agreement'], rows);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
