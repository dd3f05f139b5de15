/** Memory view: full vs compressed KV bytes per scale, and per layer at the selected scale; fidelity numbers. */
import * as d3 from 'd3';
import type { FidelityReport, KvReport } from '../../src/shared/types';

const MiB = 2 ** 20;

export function drawMemory(host: HTMLElement, kv: KvReport, selectedScale: number | null): SVGSVGElement {
  host.replaceChildren();
  const W = 420;
  const H = 170;
  const m = { l: 48, r: 10, t: 18, b: 28 };
  const svg = d3.select(host).append('svg').attr('class', 'memory').attr('width', W).attr('height', H).attr('viewBox', `0 0 ${W} ${H}`);
  const data = kv.perScale;
  const x = d3.scaleBand<number>().domain(data.map((d) => d.scaleIndex)).range([m.l, W - m.r]).padding(0.2);
  const y = d3.scaleLinear().domain([0, d3.max(data, (d) => d.fullBytes / MiB) ?? 1]).nice().range([H - m.b, m.t]);
  svg.append('g').attr('class', 'axis').attr('transform', `translate(0,${H - m.b})`).call(d3.axisBottom(x).tickSizeOuter(0));
  svg.append('g').attr('class', 'axis').attr('transform', `translate(${m.l},0)`).call(d3.axisLeft(y).ticks(4));
  svg.append('text').attr('class', 'axis-title').attr('x', m.l).attr('y', 11).text('KV cache MiB per scale: full (outline) vs held (filled)');
  svg
    .append('g')
    .selectAll('rect.full')
    .data(data)
    .join('rect')
    .attr('class', 'bar-full')
    .attr('x', (d) => x(d.scaleIndex)!)
    .attr('width', x.bandwidth())
    .attr('y', (d) => y(d.fullBytes / MiB))
    .attr('height', (d) => y(0) - y(d.fullBytes / MiB));
  svg
    .append('g')
    .selectAll('rect.held')
    .data(data)
    .join('rect')
    .attr('class', (d) => `bar-held${d.scaleIndex === selectedScale ? ' selected' : ''}`)
    .attr('x', (d) => x(d.scaleIndex)!)
    .attr('width', x.bandwidth())
    .attr('y', (d) => y(d.heldBytes / MiB))
    .attr('height', (d) => y(0) - y(d.heldBytes / MiB))
    .append('title')
    .text((d) => `scale ${d.scaleIndex}: held ${(d.heldBytes / MiB).toFixed(2)} MiB of ${(d.fullBytes / MiB).toFixed(2)} MiB (${((100 * d.heldBytes) / d.fullBytes).toFixed(1)}%), peak ${(d.peakBytes / MiB).toFixed(2)} MiB`);
  return svg.node()!;
}

export function drawLayerMemory(host: HTMLElement, kv: KvReport, si: number): SVGSVGElement | null {
  host.replaceChildren();
  const s = kv.perScale[si];
  if (!s) return null;
  const W = 420;
  const H = 120;
  const m = { l: 48, r: 10, t: 18, b: 24 };
  const svg = d3.select(host).append('svg').attr('class', 'memory').attr('width', W).attr('height', H);
  const x = d3.scaleBand<number>().domain(s.perLayerTokens.map((_, i) => i)).range([m.l, W - m.r]).padding(0.15);
  const full = s.fullBytes / s.perLayerHeld.length;
  const y = d3.scaleLinear().domain([0, full / MiB]).nice().range([H - m.b, m.t]);
  svg.append('g').attr('class', 'axis').attr('transform', `translate(0,${H - m.b})`).call(d3.axisBottom(x).tickValues(x.domain().filter((i) => s.perLayerHeld.length <= 16 || i % 4 === 0)));
  svg.append('g').attr('class', 'axis').attr('transform', `translate(${m.l},0)`).call(d3.axisLeft(y).ticks(3));
  svg.append('text').attr('class', 'axis-title').attr('x', m.l).attr('y', 11).text(`scale ${si}: MiB held per layer (full = ${(full / MiB).toFixed(2)})`);
  svg
    .append('g')
    .selectAll('rect')
    .data(s.perLayerHeld)
    .join('rect')
    .attr('class', 'bar-held')
    .attr('x', (_, i) => x(i)!)
    .attr('width', x.bandwidth())
    .attr('y', (b) => y(b / MiB))
    .attr('height', (b) => y(0) - y(b / MiB))
    .append('title')
    .text((b, i) => `layer ${i}: ${s.perLayerTokens[i]} tokens, ${(b / MiB).toFixed(3)} MiB`);
  return svg.node();
}

export function fidelityTable(f: FidelityReport | undefined): HTMLElement {
  const div = document.createElement('div');
  div.className = 'fidelity';
  if (!f) {
    div.textContent = 'No fidelity report for this run (run ScaleKV: Compare Policies to measure one against the full cache).';
    return div;
  }
  const fmt = (v: number, d = 2) => (v === Infinity ? '∞' : Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const rows = f.images.map((im) => `<tr><td>${escapeHtml(im.prompt)}</td><td>${fmt(im.psnr)} dB</td><td>${fmt(im.ssim, 4)}</td><td>${im.lpips === null ? 'n/a' : fmt(im.lpips, 4)}</td></tr>`).join('');
  const agree = f.tokenAgreement.map((t) => `${t.scaleIndex}: ${(100 * t.agreement).toFixed(1)}%`).join(', ');
  div.innerHTML = `<table><thead><tr><th>prompt</th><th>PSNR</th><th>SSIM</th><th>LPIPS</th></tr></thead><tbody>${rows}</tbody></table>
  <p>KV held ${(100 * f.kvHeldRatio).toFixed(1)}% of full, peak ${(100 * f.kvPeakRatio).toFixed(1)}%. Bits equal to the full cache per scale: ${agree}.</p>`;
  return div;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
