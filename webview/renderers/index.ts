/**
 * Notebook renderer for ScaleKV's MIME types, drawing with the visualizer's own code (webview/shared):
 *  application/vnd.scalekv.profile+json -> the drafter/refiner grid;
 *  application/vnd.scalekv.run+json     -> image, retention map for a picked layer/scale/head/row
 *                                          (from the retention record carried inline), the run's
 *                                          profile grid, memory and fidelity;
 *  application/vnd.scalekv.leaderboard+json -> an evaluation's table and memory-vs-fidelity plot.
 * Works for any notebook output with these types (the ScaleKV controller's, or a Python kernel's
 * display(..., raw=True)). A malformed payload renders a readable error box, never an empty cell.
 * No vscode import: VS Code loads this as an ES module inside the notebook webview.
 */
import { drawGrid } from '../shared/grid';
import { drawAgreement, drawLayerMemory, drawMemory, fidelityTable } from '../shared/memory';
import { drawRetention } from '../shared/retention';
import { sliceFromData, validateLeaderboard, validateProfileShape, validateRunPayload } from '../shared/data';
import { drawLeaderboardPlot, leaderboardTable } from '../shared/leaderboard';
import { LEADERBOARD_MIME, RUN_MIME, PROFILE_MIME } from '../../src/shared/types';
import { scopeCss } from './scopeCss';
import css from '../../media/visualizer.css';
import '../shared/elements';

/** The parts of the notebook renderer API's OutputItem used here. */
interface OutputItem {
  id?: string;
  mime: string;
  json(): unknown;
}

const ROOT = '.scalekv-output';
let scoped: string | null = null;
/** makes the ids that tie each picker's label to its select unique across the notebook's outputs */
let nextId = 0;

/** the part of vscode-single-select used here */
type Select = HTMLElement & { value: string };

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function withStyle(element: HTMLElement): HTMLElement {
  const s = el('style');
  s.dataset.scalekv = '';
  s.textContent = scoped ??= scopeCss(css, ROOT);
  const root = el('div', 'scalekv-output');
  element.append(s, root);
  return root;
}

function errorBox(root: HTMLElement, msg: string): void {
  const d = el('div', 'error');
  d.setAttribute('role', 'alert');
  const body = el('div');
  body.append(el('strong', undefined, 'ScaleKV cannot render this output: '), el('div', undefined, msg));
  d.append(body);
  root.append(d);
}

/** a labelled VS Code select; class cls names it for the tests */
function picker(label: string, cls: string, options: [string, string][]): { wrap: HTMLElement; select: Select } {
  const wrap = el('span', 'picker');
  const select = document.createElement('vscode-single-select') as Select;
  select.className = cls;
  select.id = `scalekv-picker-${++nextId}`;
  select.setAttribute('label', label);
  for (const [v, t] of options) {
    const o = document.createElement('vscode-option');
    o.setAttribute('value', v);
    o.textContent = t;
    select.append(o);
  }
  const l = document.createElement('vscode-label');
  l.setAttribute('for', select.id);
  l.textContent = label;
  wrap.append(l, select);
  return { wrap, select };
}

/** VS Code tabs, one panel per [title, content]; the first is shown */
function tabs(label: string, panels: [string, HTMLElement][]): HTMLElement {
  const t = document.createElement('vscode-tabs');
  t.setAttribute('aria-label', label);
  for (const [title, content] of panels) {
    const h = document.createElement('vscode-tab-header');
    h.slot = 'header';
    h.textContent = title;
    const p = document.createElement('vscode-tab-panel');
    p.append(content);
    t.append(h, p);
  }
  return t;
}

function renderProfile(root: HTMLElement, data: unknown): () => void {
  const p = validateProfileShape(data);
  root.append(
    el(
      'h2',
      undefined,
      `${p.model.name}: drafters and refiners (${p.model.depth} layers × ${p.scales.length} scales, ${Math.round(100 * p.settings.targetRatio)}% budget, ${p.origin})`,
    ),
  );
  const gridHost = el('div');
  const hover = el('div', 'hover note');
  hover.setAttribute('aria-live', 'polite');
  root.append(gridHost, hover);
  const grid = drawGrid(gridHost, p, {
    selected: null,
    onSelect: (s) => grid.setSelected(s),
    onHover: (t) => (hover.textContent = t ?? ''),
  });
  return () => {};
}

function renderRun(root: HTMLElement, data: unknown): () => void {
  const { payload, kept } = validateRunPayload(data);
  const run = payload.run;
  const idx = payload.retention?.index ?? null;
  const img = payload.images?.find((i) => i && typeof i.dataUri === 'string' && i.dataUri.startsWith('data:image/'));
  const size = run.images[0] ? `${run.images[0].width}×${run.images[0].height}` : `${run.schedule.length} scales`;
  root.append(
    el(
      'h2',
      undefined,
      `${run.model.name} · ${run.request.policy.name} · ${size} · ${run.provider.used} · ${(run.totalMs / 1000).toFixed(1)} s`,
    ),
  );

  const heads = idx?.heads ?? run.model.numHeads;
  const rows = idx?.batchRows ?? 1;
  const lastCompressed = run.profile ? run.profile.scales.map((s) => s.compressed).lastIndexOf(true) : -1;
  const layer = picker(
    'Layer',
    'layer',
    Array.from({ length: run.model.depth }, (_, i) => [String(i), String(i)]),
  );
  const scale = picker(
    'Scale',
    'scale',
    run.schedule.map((s, i) => [String(i), `${i} (${s.h}×${s.w})`]),
  );
  const head = picker(
    'Head',
    'head',
    Array.from({ length: heads }, (_, i) => [String(i), String(i)]),
  );
  const row = picker(
    'Row',
    'row',
    Array.from({ length: rows }, (_, i) => [String(i), i === 0 ? 'conditional' : 'unconditional']),
  );
  scale.select.value = String(lastCompressed >= 0 ? Math.min(lastCompressed, run.schedule.length - 1) : run.schedule.length - 1);
  const controls = el('div', 'controls');
  controls.append(layer.wrap, scale.wrap, head.wrap, row.wrap);
  const kk = el('span', 'key');
  kk.append(el('span', 'swatch kept'), 'kept');
  const ke = el('span', 'key');
  ke.append(el('span', 'swatch evicted'), 'evicted');
  controls.append(kk, ke);

  const retentionRow = el('div', 'retention-row');
  const canvasWrap = el('div', 'retention-wrap');
  const canvas = el('canvas', 'retention');
  canvas.setAttribute('role', 'img');
  canvasWrap.append(canvas);
  retentionRow.append(canvasWrap);
  if (img) {
    const fig = el('figure');
    const im = el('img');
    im.alt = `generated image: ${img.prompt}`;
    im.src = img.dataUri;
    fig.append(im, el('figcaption', undefined, img.prompt));
    retentionRow.append(fig);
  }
  const note = el('div', 'note');
  note.setAttribute('aria-live', 'polite');
  const gridHost = el('div');
  const hover = el('div', 'hover note');
  const memHost = el('div', 'figure-box');
  const layerHost = el('div', 'figure-box');
  const agreeHost = el('div', 'figure-box');
  // notebook outputs are narrow: one figure at a time
  const figures: [string, HTMLElement][] = [
    ['KV per scale', memHost],
    ['KV per layer', layerHost],
  ];
  if (run.fidelity?.tokenAgreement.length) figures.push(['Token agreement', agreeHost]);
  figures.push(['Fidelity', fidelityTable(run.fidelity)]);
  root.append(controls, retentionRow, note);
  if (run.profile) root.append(el('h2', undefined, 'Drafters and refiners (click a cell to show its tokens)'), gridHost, hover);
  root.append(el('h2', undefined, 'Memory and fidelity'), tabs('Memory and fidelity', figures));

  const sel = () => ({
    layer: Number(layer.select.value),
    scaleIndex: Number(scale.select.value),
    head: Number(head.select.value),
    row: Number(row.select.value),
  });
  const grid = run.profile
    ? drawGrid(gridHost, run.profile, {
        selected: sel(),
        run,
        onSelect: (s) => {
          layer.select.value = String(s.layer);
          if (s.scaleIndex < run.schedule.length) scale.select.value = String(s.scaleIndex);
          draw();
        },
        onHover: (t) => (hover.textContent = t ?? ''),
      })
    : null;

  function drawRetentionOnly(): void {
    const s = sel();
    if (!idx) {
      canvas.hidden = true;
      note.textContent = 'This output carries no retention record (the run did not record kept tokens, or it was too large to embed).';
      return;
    }
    const sl = sliceFromData(idx, kept, s.layer, s.scaleIndex, s.row, s.head);
    if (!sl) {
      canvas.hidden = true;
      note.textContent = `No retention record for layer ${s.layer} at scale ${s.scaleIndex}.`;
      return;
    }
    canvas.hidden = false;
    const st = drawRetention(
      canvas,
      { schedule: run.schedule, upTo: s.scaleIndex, kept: sl.kept },
      Math.max(320, retentionRow.clientWidth - (img ? 220 : 0)),
    );
    note.textContent = `Layer ${s.layer}, head ${s.head}, ${s.row ? 'unconditional' : 'conditional'} row: holds ${st.kept} of the ${st.total} tokens generated up to scale ${s.scaleIndex} (cache held ${sl.cacheLen} before this scale's eviction).`;
  }

  function draw(): void {
    const s = sel();
    grid?.setSelected(s);
    drawRetentionOnly();
    drawMemory(memHost, run.kv, s.scaleIndex, (si) => {
      scale.select.value = String(si);
      draw();
    });
    drawLayerMemory(layerHost, run.kv, s.scaleIndex);
    drawAgreement(agreeHost, run.fidelity, s.scaleIndex);
  }
  for (const p of [layer, scale, head, row]) p.select.addEventListener('change', draw);
  draw();
  let t = 0;
  const ro = new ResizeObserver(() => {
    clearTimeout(t);
    t = window.setTimeout(drawRetentionOnly, 100);
  });
  ro.observe(retentionRow);
  return () => ro.disconnect();
}

export function renderLeaderboard(root: HTMLElement, data: unknown): () => void {
  const lb = validateLeaderboard(data);
  const ratios = lb.ratios.map((r) => `${Math.round(r * 1000) / 10}%`).join(', ');
  const cases = `${lb.prompts.length} prompts × ${lb.seeds.length} seeds`;
  root.append(el('h2', undefined, `Leaderboard: ${lb.model.name}, ${lb.rows.length} rows at ${ratios} (${cases})`));
  const plot = el('div', 'figure-box leaderboard-plot-host');
  drawLeaderboardPlot(plot, lb);
  root.append(plot, leaderboardTable(lb));
  return () => {};
}

export function activate(_ctx?: unknown) {
  const disposers = new Map<string, () => void>();
  return {
    renderOutputItem(item: OutputItem, element: HTMLElement) {
      if (item.id) disposers.get(item.id)?.();
      element.replaceChildren();
      const root = withStyle(element);
      try {
        const data = item.json();
        let dispose: () => void;
        if (item.mime === PROFILE_MIME) dispose = renderProfile(root, data);
        else if (item.mime === RUN_MIME) dispose = renderRun(root, data);
        else if (item.mime === LEADERBOARD_MIME) dispose = renderLeaderboard(root, data);
        else throw new Error(`unknown MIME type ${item.mime}`);
        if (item.id) disposers.set(item.id, dispose);
      } catch (e) {
        root.replaceChildren();
        errorBox(root, (e as Error).message);
      }
    },
    disposeOutputItem(id?: string) {
      if (id === undefined) {
        disposers.forEach((d) => d());
        disposers.clear();
        return;
      }
      disposers.get(id)?.();
      disposers.delete(id);
    },
  };
}
