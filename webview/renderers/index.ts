/**
 * Notebook renderer for ScaleKV's MIME types, reusing the visualizer's drawing code:
 *  application/vnd.scalekv.profile+json -> the drafter/refiner grid;
 *  application/vnd.scalekv.run+json     -> image, retention map (pick layer/scale/head), memory, fidelity.
 * Works for any notebook output carrying these types (the ScaleKV controller's, or a Python kernel's
 * display(..., raw=True)). A malformed payload renders a readable error, never an empty cell.
 */
import { drawGrid, drawGridLegend } from '../shared/grid';
import { drawMemory, escapeHtml, fidelityTable } from '../shared/memory';
import { drawRetention } from '../shared/retention';
import { validateProfileShape, validateRunShape } from '../shared/data';
import { RUN_MIME, PROFILE_MIME, type RunPayload } from '../../src/shared/types';
import css from '../../media/visualizer.css';

interface OutputItem {
  mime: string;
  json(): unknown;
}

function style(element: HTMLElement): void {
  if (!element.querySelector('style[data-scalekv]')) {
    const s = document.createElement('style');
    s.dataset.scalekv = '';
    // the visualizer's rules, scoped so they do not leak into the notebook
    s.textContent = (css as string).replace(/(^|})\s*body\s*\{/g, '$1 .scalekv-output {');
    element.append(s);
  }
}

function errorBox(element: HTMLElement, msg: string): void {
  const d = document.createElement('div');
  d.className = 'error';
  d.setAttribute('role', 'alert');
  d.textContent = `ScaleKV cannot render this output: ${msg}`;
  element.append(d);
}

function decodeRetention(p: RunPayload): Int32Array | null {
  if (!p.retention) return null;
  const bin = atob(p.retention.dataBase64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Int32Array(bytes.buffer);
}

export function renderProfile(element: HTMLElement, data: unknown): void {
  const p = validateProfileShape(data);
  const root = document.createElement('div');
  root.className = 'scalekv-output';
  root.innerHTML = `<h2>${escapeHtml(p.model.name)}: drafters and refiners (${p.model.depth} layers x ${p.scales.length} scales, ${(100 * p.settings.targetRatio).toFixed(0)}% budget)</h2><div class="legend"></div><div class="grid-host"></div><div class="hover note"></div>`;
  element.append(root);
  const hover = root.querySelector('.hover') as HTMLElement;
  const gridHost = root.querySelector('.grid-host') as HTMLElement;
  let selected = { layer: 0, scaleIndex: p.scales.findIndex((s) => s.compressed) };
  const redraw = () =>
    drawGrid(gridHost, p, {
      selected,
      onSelect: (s) => {
        selected = s;
        redraw();
      },
      onHover: (t) => (hover.textContent = t ?? ''),
    });
  drawGridLegend(root.querySelector('.legend') as HTMLElement, p);
  redraw();
}

export function renderRun(element: HTMLElement, data: unknown): void {
  const payload = data as RunPayload;
  if (!payload || typeof payload !== 'object') throw new Error('the payload is not an object');
  const run = validateRunShape(payload.run);
  const kept = decodeRetention(payload);
  const root = document.createElement('div');
  root.className = 'scalekv-output';
  const img = payload.images?.[0];
  root.innerHTML = `<h2>${escapeHtml(run.model.name)} · ${escapeHtml(run.request.policy.name)} · ${run.images[0]?.width}x${run.images[0]?.height} · ${run.provider.used}</h2>
  <div class="controls"><label>Layer <select class="layer"></select></label><label>Scale <select class="scale"></select></label><label>Head <select class="head"></select></label></div>
  <div class="retention-row"><canvas class="retention"></canvas>${img ? `<figure><img alt="generated image" src="${img.dataUri}"><figcaption>${escapeHtml(img.prompt)}</figcaption></figure>` : ''}</div>
  <div class="note"></div><div class="memory-host"></div><div class="grid-host"></div>`;
  element.append(root);
  const q = <T extends HTMLElement>(s: string) => root.querySelector(s) as T;
  const heads = run.retention?.heads ?? run.model.numHeads;
  q<HTMLSelectElement>('.layer').append(...Array.from({ length: run.model.depth }, (_, i) => new Option(String(i), String(i))));
  q<HTMLSelectElement>('.scale').append(...run.schedule.map((s, i) => new Option(`${i} (${s.h}x${s.w})`, String(i))));
  q<HTMLSelectElement>('.head').append(...Array.from({ length: heads }, (_, i) => new Option(String(i), String(i))));
  q<HTMLSelectElement>('.scale').value = String(run.schedule.length - 2);
  const draw = () => {
    const layer = Number(q<HTMLSelectElement>('.layer').value);
    const si = Number(q<HTMLSelectElement>('.scale').value);
    const head = Number(q<HTMLSelectElement>('.head').value);
    const entry = run.retention?.entries.find((e) => e.layer === layer && e.scaleIndex === si);
    const note = q<HTMLElement>('.note');
    if (!entry || !run.retention) {
      note.textContent = 'This run has no retention record for that layer and scale.';
      return;
    }
    let positions: number[];
    if (entry.offset < 0) positions = Array.from({ length: entry.count }, (_, i) => i);
    else if (kept) {
      const at = entry.offset + head * entry.count; // conditional row
      positions = Array.from(kept.subarray(at, at + entry.count));
    } else {
      note.textContent = 'The payload carries no retention data.';
      return;
    }
    const st = drawRetention(q<HTMLCanvasElement>('.retention'), { schedule: run.schedule, upTo: si, kept: positions });
    note.textContent = `Layer ${layer}, head ${head}: ${st.kept} of ${st.total} tokens kept after scale ${si}.`;
    drawMemory(q<HTMLElement>('.memory-host'), run.kv, si);
  };
  for (const s of ['.layer', '.scale', '.head']) q<HTMLSelectElement>(s).addEventListener('change', draw);
  draw();
  root.append(fidelityTable(run.fidelity));
  if (run.profile) drawGrid(q<HTMLElement>('.grid-host'), run.profile);
}

export const activate = () => ({
  renderOutputItem(item: OutputItem, element: HTMLElement) {
    element.replaceChildren();
    style(element);
    try {
      const data = item.json();
      if (item.mime === PROFILE_MIME) renderProfile(element, data);
      else if (item.mime === RUN_MIME) renderRun(element, data);
      else errorBox(element, `unknown MIME type ${item.mime}`);
    } catch (e) {
      errorBox(element, (e as Error).message);
    }
  },
});
