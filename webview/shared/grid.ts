/**
 * The layer x scale grid of a ScaleKV profile: one cell per (layer, scale), drafters outlined and
 * marked, cells coloured by the Attention Selectivity Index when the profile has it (else by the
 * budget), uncompressed scales hatched. Keyboard: arrows move, Enter/Space selects.
 */
import * as d3 from 'd3';
import type { ScaleKVProfile } from '../../src/shared/types';

export interface GridSelection {
  layer: number;
  scaleIndex: number;
}

export interface GridOptions {
  selected?: GridSelection | null;
  onSelect?(s: GridSelection): void;
  onHover?(text: string | null): void;
}

const CELL = 18;
const GAP = 2;

export function cellInfo(p: ScaleKVProfile, layer: number, si: number): string {
  const s = p.scales[si];
  const role = s.roles[layer];
  const budget = !s.compressed ? 'not compressed' : `${role === 'drafter' ? s.drafterBudget : s.refinerBudget} tokens of ${s.cumulativeTokens}`;
  const asi = s.asi ? `, ASI ${s.asi[layer].toFixed(3)}` : '';
  return `layer ${layer}, scale ${si} (${s.shape.h}x${s.shape.w}): ${s.compressed ? role : 'full cache'}, budget ${budget}${asi}`;
}

export function drawGrid(host: HTMLElement, p: ScaleKVProfile, o: GridOptions = {}): SVGSVGElement {
  host.replaceChildren();
  const depth = p.model.depth;
  const n = p.scales.length;
  const left = 56;
  const top = 34;
  const width = left + n * (CELL + GAP) + 10;
  const height = top + depth * (CELL + GAP) + 10;
  const svg = d3
    .select(host)
    .append('svg')
    .attr('class', 'grid')
    .attr('width', width)
    .attr('height', height)
    .attr('viewBox', `0 0 ${width} ${height}`)
    .attr('role', 'grid')
    .attr('aria-label', `Drafter and refiner layers of ${p.model.name}: ${depth} layers by ${n} scales`)
    .attr('tabindex', 0);
  const asiValues = p.scales.flatMap((s) => s.asi ?? []);
  const hasAsi = asiValues.length > 0;
  const [lo, hi] = hasAsi ? (d3.extent(asiValues) as [number, number]) : [0, 1];
  const colour = d3.scaleSequential(d3.interpolateViridis).domain([lo, hi === lo ? lo + 1 : hi]);
  const budgetColour = d3.scaleSequential(d3.interpolateViridis).domain([0, 1]);

  svg
    .append('g')
    .attr('class', 'axis-label')
    .selectAll('text')
    .data(p.scales)
    .join('text')
    .attr('x', (_, i) => left + i * (CELL + GAP) + CELL / 2)
    .attr('y', top - 8)
    .attr('text-anchor', 'middle')
    .text((s) => `${s.shape.h}`)
    .append('title')
    .text((s) => `scale ${s.scaleIndex}: ${s.shape.h}x${s.shape.w}`);
  svg.append('text').attr('class', 'axis-title').attr('x', left).attr('y', 11).text('scale (token-map side) →');
  svg
    .append('g')
    .attr('class', 'axis-label')
    .selectAll('text')
    .data(d3.range(depth))
    .join('text')
    .attr('x', left - 6)
    .attr('y', (l) => top + l * (CELL + GAP) + CELL * 0.7)
    .attr('text-anchor', 'end')
    .text((l) => `L${l}`);

  const cells: { layer: number; si: number }[] = [];
  for (let l = 0; l < depth; l++) for (let si = 0; si < n; si++) cells.push({ layer: l, si });
  const g = svg.append('g');
  g.selectAll('rect.cell')
    .data(cells)
    .join('rect')
    .attr('class', (c) => {
      const s = p.scales[c.si];
      const role = s.compressed ? s.roles[c.layer] : 'full';
      const sel = o.selected && o.selected.layer === c.layer && o.selected.scaleIndex === c.si ? ' selected' : '';
      return `cell ${role}${sel}`;
    })
    .attr('data-layer', (c) => c.layer)
    .attr('data-scale', (c) => c.si)
    .attr('x', (c) => left + c.si * (CELL + GAP))
    .attr('y', (c) => top + c.layer * (CELL + GAP))
    .attr('width', CELL)
    .attr('height', CELL)
    .attr('rx', 2)
    .attr('fill', (c) => {
      const s = p.scales[c.si];
      if (!s.compressed) return 'var(--skv-full)';
      if (s.asi) return colour(s.asi[c.layer]);
      const b = s.roles[c.layer] === 'drafter' ? s.drafterBudget : s.refinerBudget;
      return budgetColour(b / s.cumulativeTokens);
    })
    .attr('role', 'gridcell')
    .attr('aria-label', (c) => cellInfo(p, c.layer, c.si))
    .on('mouseenter', (_, c) => o.onHover?.(cellInfo(p, c.layer, c.si)))
    .on('mouseleave', () => o.onHover?.(null))
    .on('click', (_, c) => o.onSelect?.({ layer: c.layer, scaleIndex: c.si }))
    .append('title')
    .text((c) => cellInfo(p, c.layer, c.si));
  // drafters get a glyph so the split reads without colour
  g.selectAll('text.drafter-mark')
    .data(cells.filter((c) => p.scales[c.si].compressed && p.scales[c.si].roles[c.layer] === 'drafter'))
    .join('text')
    .attr('class', 'drafter-mark')
    .attr('x', (c) => left + c.si * (CELL + GAP) + CELL / 2)
    .attr('y', (c) => top + c.layer * (CELL + GAP) + CELL * 0.72)
    .attr('text-anchor', 'middle')
    .attr('pointer-events', 'none')
    .text('D');

  const el = svg.node()!;
  el.addEventListener('keydown', (e) => {
    const cur = o.selected ?? { layer: 0, scaleIndex: 0 };
    const next = { ...cur };
    if (e.key === 'ArrowRight') next.scaleIndex = Math.min(n - 1, cur.scaleIndex + 1);
    else if (e.key === 'ArrowLeft') next.scaleIndex = Math.max(0, cur.scaleIndex - 1);
    else if (e.key === 'ArrowDown') next.layer = Math.min(depth - 1, cur.layer + 1);
    else if (e.key === 'ArrowUp') next.layer = Math.max(0, cur.layer - 1);
    else if (e.key !== 'Enter' && e.key !== ' ') return;
    e.preventDefault();
    o.onSelect?.(next);
  });
  return el;
}

/** Legend for the grid's colours. */
export function drawGridLegend(host: HTMLElement, p: ScaleKVProfile): void {
  host.replaceChildren();
  const hasAsi = p.scales.some((s) => s.asi);
  const items = [
    ['swatch full', 'not compressed (early scales)'],
    ['swatch drafter', 'D = drafter (large budget)'],
    ['swatch refiner', 'refiner (small budget)'],
  ];
  for (const [cls, label] of items) {
    const span = document.createElement('span');
    span.className = 'legend-item';
    const sw = document.createElement('span');
    sw.className = cls;
    span.append(sw, document.createTextNode(label));
    host.append(span);
  }
  const note = document.createElement('span');
  note.className = 'legend-item';
  note.textContent = hasAsi ? 'colour: Attention Selectivity Index (dark = dispersed attention)' : 'colour: budget / cached tokens';
  host.append(note);
}
