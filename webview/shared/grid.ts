/**
 * The layer x scale grid of a ScaleKV profile, shared by the visualizer panel and the notebook
 * renderer. Cells are coloured by the Attention Selectivity Index when the profile has it (else by
 * budget / cached tokens); drafters are outlined and carry a "D" so the split reads without colour;
 * scales that are never compressed are drawn faded. The legend lives inside the SVG so an exported
 * figure explains itself.
 *
 * Selection changes only toggle classes: the 40 x 13 grid of Infinity-8B is drawn once per profile,
 * not once per click or key press.
 */
import * as d3 from 'd3';
import type { RunRecord, ScaleKVProfile } from '../../src/shared/types';
import { cachedTokens } from './data';

export interface GridSelection {
  layer: number;
  scaleIndex: number;
}

export interface GridOptions {
  selected?: GridSelection | null;
  /** measured tokens per layer come from here when given */
  run?: RunRecord | null;
  onSelect?(s: GridSelection): void;
  onHover?(text: string | null): void;
}

export interface GridView {
  svg: SVGSVGElement;
  setSelected(s: GridSelection | null): void;
}

const CELL = 18;
const GAP = 2;
const STEP = CELL + GAP;
let instances = 0;

function cellInfo(p: ScaleKVProfile, layer: number, si: number, run?: RunRecord | null): string {
  const s = p.scales[si];
  const role = s.compressed ? s.roles[layer] : 'full cache (scale not compressed)';
  const budget = !s.compressed ? 'none' : `${s.roles[layer] === 'drafter' ? s.drafterBudget : s.refinerBudget} tokens`;
  const asi = s.asi ? `, ASI ${s.asi[layer].toFixed(3)}` : '';
  return `Layer ${layer}, scale ${si} (${s.shape.h}×${s.shape.w}): ${role}${asi}, budget ${budget}, cached ${cachedTokens(p, layer, si, run)} of ${s.cumulativeTokens} tokens`;
}

function columnLabel(h: number, w: number): string {
  return h === w ? String(h) : `${h}×${w}`;
}

/** where everything sits: cells start at (left, top); the legend is right of the grid */
interface GridLayout {
  uid: string;
  depth: number;
  n: number;
  square: boolean;
  left: number;
  top: number;
  legendX: number;
  width: number;
  height: number;
}

/** how cells are filled: by ASI on a ramp from lo to hi, or (without ASI) by the cached share of tokens */
interface CellColouring {
  hasAsi: boolean;
  lo: number;
  hi: number;
  fill(layer: number, si: number): string | null;
}

type Svg = d3.Selection<SVGSVGElement, unknown, null, undefined>;
type Cell = { layer: number; si: number };

export function drawGrid(host: HTMLElement, p: ScaleKVProfile, o: GridOptions = {}): GridView {
  host.replaceChildren();
  host.classList.add('grid-host');
  const at = gridLayout(p);
  const colouring = cellColouring(p, o.run);
  const svg = d3
    .select(host)
    .append('svg')
    .attr('class', 'grid')
    .attr('xmlns', 'http://www.w3.org/2000/svg')
    .attr('width', at.width)
    .attr('height', at.height)
    .attr('viewBox', `0 0 ${at.width} ${at.height}`)
    .attr('role', 'grid')
    .attr(
      'aria-label',
      `Drafter and refiner layers of ${p.model.name}: ${at.depth} layers by ${at.n} scales. Arrow keys move, Enter selects.`,
    )
    .attr('tabindex', 0);
  drawAxes(svg, p, at);
  const rects = drawCells(svg, p, at, colouring, o.run);
  drawLegend(svg, at.uid, at.legendX, at.top, colouring.hasAsi, colouring.lo, colouring.hi);
  return interactive(host, svg, rects, p, at, o);
}

function gridLayout(p: ScaleKVProfile): GridLayout {
  const depth = p.model.depth;
  const n = p.scales.length;
  const square = p.scales.every((s) => s.shape.h === s.shape.w);
  const left = 44;
  // non-square column labels are rotated and need more room above the grid
  const top = square ? 34 : 52;
  const legendX = left + n * STEP + 18;
  const legendW = 190;
  return {
    uid: `skvgrid${++instances}`,
    depth,
    n,
    square,
    left,
    top,
    legendX,
    width: legendX + legendW,
    height: Math.max(top + depth * STEP + 8, top + 200),
  };
}

function cellColouring(p: ScaleKVProfile, run?: RunRecord | null): CellColouring {
  const asiValues = p.scales.flatMap((s) => s.asi ?? []);
  const hasAsi = asiValues.length > 0;
  const [lo, hi] = hasAsi ? (d3.extent(asiValues) as [number, number]) : [0, 1];
  const colour = d3.scaleSequential(d3.interpolateViridis).domain([lo, hi === lo ? lo + 1e-9 : hi]);
  const valueOf = (l: number, si: number): number | null => {
    const s = p.scales[si];
    // uncompressed scales stay neutral whatever their ASI, so the compressed region reads at a glance
    if (!s.compressed) return null;
    if (s.asi) return s.asi[l];
    if (hasAsi) return null;
    return cachedTokens(p, l, si, run) / s.cumulativeTokens;
  };
  const fill = (l: number, si: number): string | null => {
    const v = valueOf(l, si);
    if (v === null) return null;
    return hasAsi ? colour(v) : d3.interpolateViridis(v);
  };
  return { hasAsi, lo, hi, fill };
}

function drawAxes(svg: Svg, p: ScaleKVProfile, at: GridLayout): void {
  const { left, top, square } = at;
  svg.append('text').attr('class', 'axis-title').attr('x', left).attr('y', 11).text('scale (token-map side) →');
  svg
    .append('text')
    .attr('class', 'axis-title')
    .attr('x', 2)
    .attr('y', top - 8)
    .text('layer');
  const colLabels = svg
    .append('g')
    .attr('class', 'axis-label')
    .selectAll('text')
    .data(p.scales)
    .join('text')
    .attr('text-anchor', square ? 'middle' : 'start')
    .attr('transform', (_, i) =>
      square
        ? `translate(${left + i * STEP + CELL / 2},${top - 8})`
        : `translate(${left + i * STEP + CELL / 2 - 3},${top - 6}) rotate(-55)`,
    )
    .text((s) => columnLabel(s.shape.h, s.shape.w));
  colLabels.append('title').text((s) => `scale ${s.scaleIndex}: ${s.shape.h}×${s.shape.w} tokens${s.compressed ? '' : ', not compressed'}`);
  svg
    .append('g')
    .attr('class', 'axis-label')
    .selectAll('text')
    .data(d3.range(at.depth))
    .join('text')
    .attr('x', left - 6)
    .attr('y', (l) => top + l * STEP + CELL * 0.7)
    .attr('text-anchor', 'end')
    .text((l) => `L${l}`);
}

const cellId = (uid: string, l: number, si: number) => `${uid}-L${l}-S${si}`;

function drawCells(
  svg: Svg,
  p: ScaleKVProfile,
  at: GridLayout,
  colouring: CellColouring,
  run?: RunRecord | null,
): d3.Selection<SVGRectElement, Cell, SVGGElement, unknown> {
  const { left, top } = at;
  const cells: Cell[] = [];
  for (let l = 0; l < at.depth; l++) for (let si = 0; si < at.n; si++) cells.push({ layer: l, si });
  const g = svg.append('g').attr('class', 'cells');
  const rects = g
    .selectAll<SVGRectElement, Cell>('rect.cell')
    .data(cells)
    .join('rect')
    .attr('id', (c) => cellId(at.uid, c.layer, c.si))
    .attr('class', (c) => {
      const s = p.scales[c.si];
      return `cell ${s.compressed ? s.roles[c.layer] : 'full'}`;
    })
    .attr('data-layer', (c) => c.layer)
    .attr('data-scale', (c) => c.si)
    .attr('data-role', (c) => p.scales[c.si].roles[c.layer])
    .attr('x', (c) => left + c.si * STEP)
    .attr('y', (c) => top + c.layer * STEP)
    .attr('width', CELL)
    .attr('height', CELL)
    .attr('rx', 2)
    .attr('fill', (c) => colouring.fill(c.layer, c.si))
    // theme variables only work through CSS, not through presentation attributes
    .style('fill', (c) => (colouring.fill(c.layer, c.si) === null ? 'var(--skv-full)' : null))
    .attr('role', 'gridcell')
    .attr('aria-label', (c) => cellInfo(p, c.layer, c.si, run));
  // drafters get a glyph as well as an outline so the split survives greyscale prints and colour blindness
  g.selectAll('text.drafter-mark')
    .data(cells.filter((c) => p.scales[c.si].compressed && p.scales[c.si].roles[c.layer] === 'drafter'))
    .join('text')
    .attr('class', 'drafter-mark')
    .attr('x', (c) => left + c.si * STEP + CELL / 2)
    .attr('y', (c) => top + c.layer * STEP + CELL * 0.72)
    .attr('text-anchor', 'middle')
    .attr('pointer-events', 'none')
    .text('D');
  return rects;
}

/** where a navigation key moves the keyboard cursor; null for keys the grid does not handle */
function keyTarget(key: string, cursor: GridSelection, at: GridLayout): GridSelection | null {
  const next = { ...cursor };
  const { n, depth } = at;
  switch (key) {
    case 'ArrowRight':
      next.scaleIndex = Math.min(n - 1, cursor.scaleIndex + 1);
      break;
    case 'ArrowLeft':
      next.scaleIndex = Math.max(0, cursor.scaleIndex - 1);
      break;
    case 'ArrowDown':
      next.layer = Math.min(depth - 1, cursor.layer + 1);
      break;
    case 'ArrowUp':
      next.layer = Math.max(0, cursor.layer - 1);
      break;
    case 'PageDown':
      next.layer = Math.min(depth - 1, cursor.layer + 8);
      break;
    case 'PageUp':
      next.layer = Math.max(0, cursor.layer - 8);
      break;
    case 'Home':
      next.scaleIndex = 0;
      break;
    case 'End':
      next.scaleIndex = n - 1;
      break;
    default:
      return null;
  }
  return next;
}

/** the tooltip, the selected and cursor rings, mouse and keyboard: selection changes only move rings and classes */
function interactive(
  host: HTMLElement,
  svg: Svg,
  rects: d3.Selection<SVGRectElement, Cell, SVGGElement, unknown>,
  p: ScaleKVProfile,
  at: GridLayout,
  o: GridOptions,
): GridView {
  const { left, top } = at;
  const tooltip = document.createElement('div');
  tooltip.className = 'tooltip';
  tooltip.hidden = true;
  host.append(tooltip);

  const el = svg.node()!;
  let selected: GridSelection | null = o.selected ?? null;
  let cursor: GridSelection = selected ?? {
    layer: 0,
    scaleIndex: Math.max(
      0,
      p.scales.findIndex((s) => s.compressed),
    ),
  };
  const cellAt = (s: GridSelection) => el.querySelector<SVGRectElement>(`#${cellId(at.uid, s.layer, s.scaleIndex)}`);
  // rings drawn in the gaps around a cell stay visible on any fill colour, unlike a stroke on the cell
  const ring = (cls: string) =>
    svg
      .append('rect')
      .attr('class', `ring ${cls}`)
      .attr('width', CELL + 4)
      .attr('height', CELL + 4)
      .attr('rx', 3)
      .attr('pointer-events', 'none')
      .attr('visibility', 'hidden')
      .node()!;
  const rings: Record<string, SVGRectElement> = { selected: ring('selected-ring'), cursor: ring('cursor-ring') };
  const mark = (s: GridSelection | null, cls: 'selected' | 'cursor') => {
    el.querySelectorAll(`rect.cell.${cls}`).forEach((r) => r.classList.remove(cls));
    const r = rings[cls];
    r.setAttribute('visibility', s ? 'visible' : 'hidden');
    if (!s) return;
    cellAt(s)?.classList.add(cls);
    r.setAttribute('x', String(left + s.scaleIndex * STEP - 2));
    r.setAttribute('y', String(top + s.layer * STEP - 2));
  };
  const setCursor = (s: GridSelection) => {
    cursor = s;
    mark(cursor, 'cursor');
    el.setAttribute('aria-activedescendant', cellId(at.uid, s.layer, s.scaleIndex));
    o.onHover?.(cellInfo(p, s.layer, s.scaleIndex, o.run));
  };
  mark(selected, 'selected');

  rects
    .on('mousemove', (ev: MouseEvent, c) => {
      tooltip.textContent = cellInfo(p, c.layer, c.si, o.run);
      tooltip.hidden = false;
      const box = host.getBoundingClientRect();
      tooltip.style.left = `${Math.min(ev.clientX - box.left + 14, box.width - 260)}px`;
      tooltip.style.top = `${ev.clientY - box.top + 14}px`;
      o.onHover?.(tooltip.textContent);
    })
    .on('mouseleave', () => {
      tooltip.hidden = true;
      o.onHover?.(null);
    })
    .on('click', (_, c) => {
      tooltip.hidden = true; // the hover line below keeps the numbers; the box would hide the neighbours
      const s = { layer: c.layer, scaleIndex: c.si };
      setCursor(s);
      o.onSelect?.(s);
    });

  el.addEventListener('focus', () => setCursor(cursor));
  el.addEventListener('blur', () => mark(null, 'cursor'));
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      o.onSelect?.({ ...cursor });
      return;
    }
    const next = keyTarget(e.key, cursor, at);
    if (!next) return;
    e.preventDefault();
    setCursor(next);
    cellAt(next)?.scrollIntoView?.({ block: 'nearest', inline: 'nearest' });
  });

  return {
    svg: el,
    setSelected(s) {
      selected = s;
      mark(selected, 'selected');
      if (s) cursor = s;
      if (document.activeElement === el && s) mark(cursor, 'cursor');
    },
  };
}

function drawLegend(svg: Svg, uid: string, x: number, y: number, hasAsi: boolean, lo: number, hi: number): void {
  const lg = svg.append('g').attr('class', 'legend').attr('transform', `translate(${x},${y})`);
  const keys: [string, string, boolean][] = [
    ['full', 'early scale, not compressed', false],
    ['drafter', 'drafter (large budget)', true],
    ['refiner', 'refiner (small budget)', false],
  ];
  keys.forEach(([cls, label, d], i) => {
    const row = lg.append('g').attr('transform', `translate(0,${i * 22})`);
    row
      .append('rect')
      .attr('class', `cell key ${cls}`)
      .attr('width', CELL)
      .attr('height', CELL)
      .attr('rx', 2)
      .attr('fill', d3.interpolateViridis(0.55));
    if (cls === 'full') row.select('rect').style('fill', 'var(--skv-full)');
    if (d)
      row
        .append('text')
        .attr('class', 'drafter-mark')
        .attr('x', CELL / 2)
        .attr('y', CELL * 0.72)
        .attr('text-anchor', 'middle')
        .text('D');
    row
      .append('text')
      .attr('x', CELL + 6)
      .attr('y', CELL * 0.7)
      .text(label);
  });
  const rampTop = 3 * 22 + 14;
  const rampH = 90;
  lg.append('text')
    .attr('class', 'axis-title')
    .attr('x', 0)
    .attr('y', rampTop - 4)
    .text(hasAsi ? 'fill: Attention Selectivity Index' : 'fill: cached / all tokens');
  const grad = svg
    .append('defs')
    .append('linearGradient')
    .attr('id', `${uid}-ramp`)
    .attr('x1', 0)
    .attr('x2', 0)
    .attr('y1', 1)
    .attr('y2', 0);
  d3.range(0, 1.0001, 0.1).forEach((t) => grad.append('stop').attr('offset', t).attr('stop-color', d3.interpolateViridis(t)));
  lg.append('rect')
    .attr('class', 'ramp')
    .attr('x', 0)
    .attr('y', rampTop + 2)
    .attr('width', 12)
    .attr('height', rampH)
    .attr('fill', `url(#${uid}-ramp)`);
  const fmt = (v: number) => (hasAsi ? v.toFixed(3) : `${Math.round(v * 100)}%`);
  lg.append('text')
    .attr('x', 18)
    .attr('y', rampTop + 11)
    .text(`${fmt(hi)}${hasAsi ? ' concentrated' : ''}`);
  lg.append('text')
    .attr('x', 18)
    .attr('y', rampTop + rampH + 1)
    .text(`${fmt(lo)}${hasAsi ? ' dispersed' : ''}`);
}
