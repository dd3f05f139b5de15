/**
 * The visualizer webview: the layer x scale drafter/refiner grid, the token retention map of the
 * selected layer/scale/head beside the generated image, and memory/fidelity. Talks to the host only
 * through the typed messages of src/shared/protocol.ts; keeps its state across reloads.
 */
import type { FromWebview, RetentionSlice, Selection, ToWebview, VisualizerState } from '../../src/shared/protocol';
import type { RunRecord, ScaleKVProfile } from '../../src/shared/types';
import { drawGrid, drawGridLegend } from '../shared/grid';
import { drawLayerMemory, drawMemory, fidelityTable } from '../shared/memory';
import { drawRetention } from '../shared/retention';
import { inlineStyles } from '../shared/theme';
import { gridCsv, validateProfileShape, validateRunShape } from '../shared/data';

interface VsCodeApi {
  postMessage(m: FromWebview): void;
  getState(): (VisualizerState & { cache?: { profile: ScaleKVProfile | null; run: RunRecord | null; images: { prompt: string; dataUri: string }[] } }) | undefined;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let profile: ScaleKVProfile | null = null;
let run: RunRecord | null = null;
let images: { prompt: string; dataUri: string }[] = [];
let selection: Selection = { layer: 0, scaleIndex: 0, head: 0, row: 0 };
let slice: RetentionSlice | null = null;

const saved = vscode.getState();
if (saved?.selection) selection = saved.selection;
if (saved?.cache) {
  profile = saved.cache.profile;
  run = saved.cache.run;
  images = saved.cache.images ?? [];
}

function persist(): void {
  vscode.setState({ selection, cache: { profile, run, images } });
}

function post(m: FromWebview): void {
  vscode.postMessage(m);
}

function showError(msg: string | null): void {
  const e = $('error');
  e.hidden = !msg;
  e.textContent = msg ?? '';
}

function activeProfile(): ScaleKVProfile | null {
  return profile ?? run?.profile ?? null;
}

function render(): void {
  const p = activeProfile();
  $('title').textContent = run ? `ScaleKV — ${run.model.name}, ${run.request.policy.name} run ${run.id}` : p ? `ScaleKV — ${p.model.name} profile` : 'ScaleKV';
  if (p) {
    drawGridLegend($('legend'), p);
    drawGrid($('grid'), p, {
      selected: selection,
      onSelect: (s) => select({ ...selection, layer: s.layer, scaleIndex: s.scaleIndex }),
      onHover: (t) => ($('hover').textContent = t ?? ''),
    });
  } else {
    $('grid').textContent = 'No profile loaded. Run "ScaleKV: Calibrate", import a budget table, or open a ScaleKV run.';
    $('legend').replaceChildren();
  }
  const heads = run?.retention?.heads ?? p?.model.numHeads ?? 1;
  const headSel = $<HTMLSelectElement>('head');
  if (headSel.options.length !== heads) {
    headSel.replaceChildren(...Array.from({ length: heads }, (_, h) => new Option(`head ${h}`, String(h))));
  }
  headSel.value = String(selection.head);
  $<HTMLSelectElement>('row').value = String(selection.row);
  $('selection-label').textContent = `— layer ${selection.layer}, scale ${selection.scaleIndex}, head ${selection.head}`;
  renderRetention();
  renderMemory();
  persist();
}

function renderRetention(): void {
  const canvas = $<HTMLCanvasElement>('retention');
  const note = $('retention-note');
  const img = $<HTMLImageElement>('image');
  if (images[0]) {
    img.src = images[0].dataUri;
    img.hidden = false;
    $('image-caption').textContent = images[0].prompt;
  } else img.hidden = true;
  if (!run) {
    note.textContent = 'Token retention needs a run: generate with ScaleKV to see which tokens each layer keeps.';
    canvas.hidden = true;
    return;
  }
  if (!run.retention) {
    note.textContent = 'This run did not record kept tokens.';
    canvas.hidden = true;
    return;
  }
  canvas.hidden = false;
  const sel = slice?.selection;
  if (!slice || !sel || sel.layer !== selection.layer || sel.scaleIndex !== selection.scaleIndex || sel.head !== selection.head || sel.row !== selection.row) {
    note.textContent = 'Loading…';
    return;
  }
  const stats = drawRetention(canvas, { schedule: run.schedule, upTo: selection.scaleIndex, kept: slice.kept });
  note.textContent = `Layer ${selection.layer} keeps ${stats.kept} of ${stats.total} tokens after scale ${selection.scaleIndex} (cache held ${slice.cacheLen} before eviction).`;
}

function renderMemory(): void {
  if (!run) {
    $('memory').textContent = '';
    $('layer-memory').textContent = '';
    $('fidelity').replaceChildren();
    return;
  }
  drawMemory($('memory'), run.kv, selection.scaleIndex);
  drawLayerMemory($('layer-memory'), run.kv, selection.scaleIndex);
  $('fidelity').replaceChildren(fidelityTable(run.fidelity));
}

function select(s: Selection): void {
  selection = s;
  post({ type: 'select', selection });
  if (run?.retention) post({ type: 'requestRetention', runId: run.id, selection });
  render();
  (document.querySelector('svg.grid') as SVGSVGElement | null)?.focus();
}

window.addEventListener('message', (ev: MessageEvent<ToWebview>) => {
  const m = ev.data;
  try {
    if (m.type === 'profile') {
      profile = m.profile ? validateProfileShape(m.profile) : null;
      showError(null);
      render();
    } else if (m.type === 'run') {
      run = m.run ? validateRunShape(m.run) : null;
      images = m.images ?? [];
      showError(null);
      if (run) {
        selection = { ...selection, scaleIndex: Math.min(selection.scaleIndex, run.schedule.length - 1), layer: Math.min(selection.layer, run.model.depth - 1) };
        if (run.retention) post({ type: 'requestRetention', runId: run.id, selection });
      }
      render();
    } else if (m.type === 'retention') {
      if (m.error) showError(m.error);
      slice = m.slice;
      renderRetention();
    } else if (m.type === 'error') {
      showError(m.message);
    }
  } catch (e) {
    // a malformed payload leaves a readable message, never a blank view
    showError(`Cannot show this data: ${(e as Error).message}`);
    post({ type: 'error', message: (e as Error).message });
  }
});

$<HTMLSelectElement>('head').addEventListener('change', (e) => select({ ...selection, head: Number((e.target as HTMLSelectElement).value) }));
$<HTMLSelectElement>('row').addEventListener('change', (e) => select({ ...selection, row: Number((e.target as HTMLSelectElement).value) }));

function exportGridSvg(): string | null {
  const svg = document.querySelector('#grid svg') as SVGSVGElement | null;
  return svg ? inlineStyles(svg) : null;
}

async function svgToPngBase64(svgText: string, w: number, h: number): Promise<string> {
  const img = new Image();
  const url = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svgText)))}`;
  await new Promise<void>((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error('could not rasterise the SVG'));
    img.src = url;
  });
  const c = document.createElement('canvas');
  c.width = w * 2;
  c.height = h * 2;
  const ctx = c.getContext('2d')!;
  ctx.scale(2, 2);
  ctx.drawImage(img, 0, 0);
  return c.toDataURL('image/png').split(',')[1];
}

const baseName = () => (run ? `scalekv-${run.id}` : `scalekv-${activeProfile()?.model.name ?? 'profile'}`);

$('export-svg').addEventListener('click', () => {
  const s = exportGridSvg();
  if (s) post({ type: 'export', kind: 'svg', suggestedName: `${baseName()}-grid.svg`, data: s });
});
$('export-png').addEventListener('click', async () => {
  const svg = document.querySelector('#grid svg') as SVGSVGElement | null;
  const s = exportGridSvg();
  if (!svg || !s) return;
  try {
    post({ type: 'export', kind: 'png', suggestedName: `${baseName()}-grid.png`, data: await svgToPngBase64(s, svg.width.baseVal.value, svg.height.baseVal.value) });
  } catch (e) {
    showError((e as Error).message);
  }
});
$('export-retention-png').addEventListener('click', () => {
  const c = $<HTMLCanvasElement>('retention');
  if (!c.hidden && c.width) post({ type: 'export', kind: 'png', suggestedName: `${baseName()}-L${selection.layer}-S${selection.scaleIndex}-H${selection.head}.png`, data: c.toDataURL('image/png').split(',')[1] });
});
$('export-json').addEventListener('click', () => post({ type: 'export', kind: 'json', suggestedName: `${baseName()}.json`, data: JSON.stringify({ profile: activeProfile(), run, selection, retention: slice }, null, 2) }));
$('export-csv').addEventListener('click', () => {
  const p = activeProfile();
  if (p) post({ type: 'export', kind: 'csv', suggestedName: `${baseName()}-grid.csv`, data: gridCsv(p) });
});

render();
post({ type: 'ready' });
// restored after a reload: ask again for the retention slice the selection shows
if (run?.retention) post({ type: 'requestRetention', runId: run.id, selection });
