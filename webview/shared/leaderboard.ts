/**
 * The evaluation leaderboard, shared by the visualizer and the notebook renderer: a table of the rows
 * (policy x ratio, x budget rule, x ASI variant; means over prompts) and a memory-vs-fidelity plot,
 * x = KV held after the last scale as a fraction of the full cache, y = PSNR against the full cache,
 * one mark per row. Each series (policy, variant and rule) has its own shape and its own theme chart
 * colour, so the plot reads without colour too; marks are styled with the theme's variables so they
 * follow theme changes, and an export inlines the computed colours (theme.ts).
 */
import * as d3 from 'd3';
import { formatPsnr } from '../../src/engine/leaderboard';
import type { Leaderboard, LeaderboardRow } from '../../src/shared/types';
import { toCsv } from './data';

/** VS Code's chart colours, with the dark theme's values where a theme lacks one */
const PALETTE = [
  'var(--vscode-charts-blue, #3794ff)',
  'var(--vscode-charts-orange, #d18616)',
  'var(--vscode-charts-green, #89d185)',
  'var(--vscode-charts-purple, #b180d7)',
  'var(--vscode-charts-red, #f14c4c)',
  'var(--vscode-charts-yellow, #cca700)',
  'var(--vscode-charts-foreground, #cccccc)',
];
const SHAPES = [d3.symbolCircle, d3.symbolSquare, d3.symbolTriangle, d3.symbolDiamond, d3.symbolCross, d3.symbolStar, d3.symbolWye];
const SHAPE_NAMES = ['circle', 'square', 'triangle', 'diamond', 'cross', 'star', 'wye'];

export interface Series {
  label: string;
  colour: string;
  shape: string;
  path: string;
}

/** one series per row label, in a stable (sorted) order: the same policy keeps its mark across leaderboards */
function seriesOf(lb: Leaderboard, size = 70): Map<string, Series> {
  const labels = [...new Set(lb.rows.map((r) => r.label))].sort();
  return new Map(
    labels.map((label, i) => {
      const k = i % SHAPES.length;
      return [label, { label, colour: PALETTE[i % PALETTE.length], shape: SHAPE_NAMES[k], path: d3.symbol(SHAPES[k], size)()! }];
    }),
  );
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
const fx = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function keySymbol(s: Series): SVGSVGElement {
  const svg = d3.create('svg').attr('class', 'series-key').attr('width', 14).attr('height', 14).attr('viewBox', '-7 -7 14 14');
  svg.attr('aria-hidden', 'true');
  svg.append('path').attr('class', 'mark').attr('d', s.path).attr('data-shape', s.shape).style('fill', s.colour);
  return svg.node()!;
}

export function leaderboardTable(lb: Leaderboard): HTMLElement {
  const div = document.createElement('div');
  div.className = 'leaderboard-table';
  const series = seriesOf(lb);
  const rules = lb.rows.some((r) => r.budgetRule);
  const table = document.createElement('table');
  table.className = 'leaderboard';
  const head = table.createTHead().insertRow();
  const cols = ['policy', 'ratio', ...(rules ? ['budget rule'] : []), 'PSNR (dB)', 'SSIM', 'bits agree (last scale)'];
  cols.push('KV held', 'KV peak', 'time / full', 'cases');
  for (const h of cols) head.append(Object.assign(document.createElement('th'), { textContent: h, scope: 'col' }));
  const body = table.createTBody();
  for (const r of lb.rows) {
    const tr = body.insertRow();
    tr.dataset.row = r.key;
    const name = tr.insertCell();
    name.append(keySymbol(series.get(r.label)!), document.createTextNode(` ${r.asiMode ? `${r.policy} (ASI ${r.asiMode})` : r.policy}`));
    const cells = [String(r.ratio), ...(rules ? [r.budgetRule ?? '-'] : []), formatPsnr(r), fx(r.ssim, 4), fx(r.bitAgreement, 3)];
    cells.push(pct(r.kvHeldRatio), pct(r.kvPeakRatio), fx(r.timeRatio, 2), String(r.cases));
    for (const v of cells) tr.insertCell().textContent = v;
  }
  const p = document.createElement('p');
  p.className = 'note';
  p.textContent =
    `${lb.model.name} on ${lb.provider.used}, ${lb.resolution} (${lb.image.width}×${lb.image.height}): means over ` +
    `${lb.prompts.length} prompt(s) × ${lb.seeds.length} seed(s) against the full cache of the same prompt and seed. ` +
    'KV held: after the last scale; peak: while any scale ran.';
  div.append(table, p, ...lb.notes.map((n) => Object.assign(document.createElement('p'), { className: 'note', textContent: n })));
  return div;
}

export function drawLeaderboardPlot(host: HTMLElement, lb: Leaderboard): SVGSVGElement {
  host.replaceChildren();
  const series = seriesOf(lb);
  const W = 640;
  const legendW = 190;
  const H = Math.max(300, 60 + series.size * 18);
  const m = { l: 52, r: legendW + 16, t: 30, b: 40 };
  const finite = lb.rows.filter((r) => r.psnr !== null).map((r) => r.psnr as number);
  const identicalBand = lb.rows.some((r) => r.psnr === null);
  const lo = finite.length ? d3.min(finite)! : 0;
  const hi = finite.length ? d3.max(finite)! : 1;
  const pad = Math.max(0.5, (hi - lo) * 0.1);
  const y = d3
    .scaleLinear()
    .domain([lo - pad, hi + pad])
    .nice()
    .range([H - m.b, m.t + (identicalBand ? 22 : 0)]);
  const x = d3
    .scaleLinear()
    .domain([0, Math.max(0.05, d3.max(lb.rows, (r) => r.kvHeldRatio) ?? 0) * 1.08])
    .nice()
    .range([m.l, W - m.r]);
  const yOf = (r: LeaderboardRow) => (r.psnr === null ? m.t + 6 : y(r.psnr));
  const svg = d3
    .select(host)
    .append('svg')
    .attr('class', 'chart leaderboard-plot')
    .attr('xmlns', 'http://www.w3.org/2000/svg')
    .attr('width', W)
    .attr('height', H)
    .attr('viewBox', `0 0 ${W} ${H}`)
    .attr('role', 'img')
    .attr('aria-label', `Memory against fidelity: ${lb.rows.length} policy and ratio pairs`);
  svg
    .append('g')
    .attr('class', 'axis')
    .attr('transform', `translate(0,${H - m.b})`)
    .call(d3.axisBottom(x).ticks(6, '.0%'));
  svg.append('g').attr('class', 'axis').attr('transform', `translate(${m.l},0)`).call(d3.axisLeft(y).ticks(6));
  svg.append('text').attr('class', 'axis-title').attr('x', 0).attr('y', 14).text('PSNR against the full cache (dB), higher is better');
  const xTitle = svg
    .append('text')
    .attr('class', 'axis-title')
    .attr('x', W - m.r)
    .attr('y', H - 4)
    .attr('text-anchor', 'end');
  xTitle.text('KV held after the last scale / full cache');
  if (identicalBand) {
    svg
      .append('line')
      .attr('class', 'line-full')
      .attr('x1', m.l)
      .attr('x2', W - m.r)
      .attr('y1', m.t + 14)
      .attr('y2', m.t + 14);
    svg
      .append('text')
      .attr('class', 'axis-title')
      .attr('x', m.l - 6)
      .attr('y', m.t + 10)
      .attr('text-anchor', 'end')
      .text('∞');
  }
  // each series joined in order of memory, so a policy's ratios read as one curve
  const g = svg.append('g').attr('class', 'series');
  for (const s of series.values()) {
    const pts = lb.rows.filter((r) => r.label === s.label && r.psnr !== null).sort((a, b) => a.kvHeldRatio - b.kvHeldRatio);
    const line = d3
      .line<LeaderboardRow>()
      .x((r) => x(r.kvHeldRatio))
      .y(yOf);
    if (pts.length > 1) g.append('path').attr('class', 'series-line').attr('d', line(pts)).style('stroke', s.colour);
  }
  g.selectAll('path.mark')
    .data(lb.rows)
    .join('path')
    .attr('class', 'mark')
    .attr('d', (r) => series.get(r.label)!.path)
    .attr('transform', (r) => `translate(${x(r.kvHeldRatio).toFixed(2)},${yOf(r).toFixed(2)})`)
    .attr('data-row', (r) => r.key)
    .attr('data-label', (r) => r.label)
    .attr('data-policy', (r) => r.policy)
    .attr('data-ratio', (r) => r.ratio)
    .attr('data-shape', (r) => series.get(r.label)!.shape)
    .style('fill', (r) => series.get(r.label)!.colour)
    .append('title')
    .text(
      (r) =>
        `${r.label} at ratio ${r.ratio}: PSNR ${formatPsnr(r)} dB, SSIM ${fx(r.ssim, 4)}, ` +
        `KV held ${pct(r.kvHeldRatio)} (peak ${pct(r.kvPeakRatio)}), last-scale bits ${pct(r.bitAgreement)} equal`,
    );
  const legend = svg
    .append('g')
    .attr('class', 'legend')
    .attr('transform', `translate(${W - legendW},${m.t})`);
  [...series.values()].forEach((s, i) => {
    const row = legend.append('g').attr('transform', `translate(0,${i * 18})`);
    const mark = row.append('path').attr('class', 'mark').attr('d', s.path).attr('transform', 'translate(6,0)');
    mark.attr('data-shape', s.shape).style('fill', s.colour);
    row.append('text').attr('x', 16).attr('y', 4).text(s.label);
  });
  return svg.node()!;
}

export function leaderboardCsv(lb: Leaderboard): string {
  const head = ['label', 'policy', 'ratio', 'budget_rule', 'asi_mode', 'cases', 'psnr', 'identical', 'ssim', 'bit_agreement'];
  head.push('kv_held_ratio', 'kv_peak_ratio', 'kv_held_bytes', 'kv_peak_bytes', 'ms', 'time_ratio');
  const rows = lb.rows.map((r) => [
    ...[r.label, r.policy, r.ratio, r.budgetRule ?? '', r.asiMode ?? '', r.cases, r.psnr ?? 'inf', r.identical, r.ssim, r.bitAgreement],
    ...[r.kvHeldRatio, r.kvPeakRatio, r.kvHeldBytes, r.kvPeakBytes, r.ms, r.timeRatio],
  ]);
  return toCsv(head, rows);
}
