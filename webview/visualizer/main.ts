/**
 * The visualizer webview: the layer x scale drafter/refiner grid, the token retention map of the
 * selected layer/scale/head beside the generated image, and memory/fidelity figures.
 *
 * PAGE CONTRACT (built by visualizerHtml in ./html.ts; the host must serve exactly that page):
 *   #title #subtitle               header text
 *   #export-json                   whole-view JSON export
 *   #error #error-title #error-detail #error-dismiss   the error panel (role=alert)
 *   #grid-empty #grid #hover       the grid (svg.grid inside #grid), its empty state, hover numbers
 *   #head #row                     retention pickers (vscode-single-select); #retention (canvas) #retention-note
 *   #retention-loading             progress ring while the kept tokens are on their way
 *   #show-image (vscode-checkbox)  the image beside the map, or the map alone at full width
 *   #image-figure #image #image-caption
 *   #memory #layer-memory #agreement-box #agreement #memory-note #fidelity
 *   #leaderboard-section #leaderboard-plot (svg.leaderboard-plot) #leaderboard-table   an evaluation, when one is shown
 *   vscode-button[data-figure][data-export]   per-figure exports (ids export-<figure>-<kind>)
 *   vscode-button[data-command]    empty-state buttons that ask the host to run a command
 *
 * MESSAGES (src/shared/protocol.ts):
 *   webview -> host: 'ready' once loaded (the host then sends 'profile' and/or 'run');
 *     'select' and, when the run recorded retention, 'requestRetention' on every selection;
 *     'export' {kind, suggestedName, data: text, or base64 for png}; 'command'; 'error'.
 *   host -> webview: 'profile' | 'run' (with images as data: URIs) | 'retention' (answers the last
 *     requestRetention; a slice for another selection is ignored) | 'leaderboard' | 'source' (the paths shown, kept in
 *     the state for the host's serializer) | 'error'.
 * State (selection + last data) is kept with setState so a reload redraws before the host answers.
 */
import type { ExportKind, FromWebview, RetentionSlice, Selection, ToWebview, VisualizerState } from '../../src/shared/protocol';
import type { Leaderboard, RunRecord, ScaleKVProfile } from '../../src/shared/types';
import { totalTokens } from '../../src/model/schedule';
import { drawGrid, type GridView } from '../shared/grid';
import { drawAgreement, drawLayerMemory, drawMemory, fidelityCsv, fidelityTable, memoryCsv } from '../shared/memory';
import { drawRetention, retentionCsv, retentionSvg } from '../shared/retention';
import { gridCsv, validateLeaderboard, validateProfileShape, validateRunShape, validateSlice } from '../shared/data';
import { drawLeaderboardPlot, leaderboardCsv, leaderboardTable } from '../shared/leaderboard';
import { exportFigure, liveSvg, type FigureSource } from './exports';
import '../shared/elements';

type Images = { prompt: string; dataUri: string }[];
interface Saved extends VisualizerState {
  cache?: { profile: ScaleKVProfile | null; run: RunRecord | null; images: Images; leaderboard?: Leaderboard | null };
}
interface VsCodeApi {
  postMessage(m: FromWebview): void;
  getState(): Saved | undefined;
  setState(s: Saved): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** images above this many characters are not kept in the webview state (the host resends them) */
const MAX_CACHED_IMAGES = 4_000_000;

const vscode = acquireVsCodeApi();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** the parts of VS Code Elements' controls used here (a select's value, a button's or option's disabled state) */
type Select = HTMLElement & { value: string };
type Toggle = HTMLElement & { disabled: boolean };
type Checkbox = HTMLElement & { checked: boolean };

let profile: ScaleKVProfile | null = null;
let run: RunRecord | null = null;
let images: Images = [];
let selection: Selection = { layer: 0, scaleIndex: 0, head: 0, row: 0 };
let slice: RetentionSlice | null = null;
let grid: GridView | null = null;
let leaderboard: Leaderboard | null = null;
/** the host's files for what is shown; only kept for the host (see the 'source' message) */
let source: Pick<VisualizerState, 'runPath' | 'profilePath' | 'leaderboardPath'> = {};

function restore(): void {
  try {
    const saved = vscode.getState();
    if (saved?.selection) selection = { ...selection, ...saved.selection };
    source = { runPath: saved?.runPath, profilePath: saved?.profilePath, leaderboardPath: saved?.leaderboardPath };
    if (saved?.cache) {
      profile = saved.cache.profile ? validateProfileShape(saved.cache.profile) : null;
      run = saved.cache.run ? validateRunShape(saved.cache.run) : null;
      images = saved.cache.images ?? [];
      leaderboard = saved.cache.leaderboard ? validateLeaderboard(saved.cache.leaderboard) : null;
    }
  } catch {
    // a state written by an older build is dropped; the host sends the data again on 'ready'
    profile = run = leaderboard = null;
  }
}

function persist(): void {
  const keepImages = images.reduce((a, i) => a + i.dataUri.length, 0) <= MAX_CACHED_IMAGES;
  vscode.setState({ ...source, selection, cache: { profile, run, images: keepImages ? images : [], leaderboard } });
}

const post = (m: FromWebview) => vscode.postMessage(m);

function showError(title: string | null, detail = ''): void {
  $('error').hidden = !title;
  $('error-title').textContent = title ?? '';
  $('error-detail').textContent = detail;
}

/** The profile a run used explains that run's retention; a loaded profile is shown when there is no run. */
const activeProfile = (): ScaleKVProfile | null => run?.profile ?? profile;

function clampSelection(): void {
  const p = activeProfile();
  const depth = run?.model.depth ?? p?.model.depth ?? 1;
  const scales = run?.schedule.length ?? p?.scales.length ?? 1;
  const heads = run?.retention?.heads ?? run?.model.numHeads ?? p?.model.numHeads ?? 1;
  const rows = run?.retention?.batchRows ?? 2;
  const c = (v: number, n: number) => Math.max(0, Math.min(n - 1, Number.isInteger(v) ? v : 0));
  selection = {
    layer: c(selection.layer, depth),
    scaleIndex: c(selection.scaleIndex, scales),
    head: c(selection.head, heads),
    row: c(selection.row, rows),
  };
}

function renderAll(): void {
  clampSelection();
  const p = activeProfile();
  $('title').textContent = run ? `ScaleKV · ${run.model.name}` : p ? `ScaleKV · ${p.model.name}` : 'ScaleKV';
  $('subtitle').textContent = run
    ? `${run.request.policy.name} run ${run.id}, ${run.schedule.length} scales, ${run.provider.used}`
    : p
      ? `${p.origin} profile, ${p.model.depth} layers × ${p.scales.length} scales, ${Math.round(100 * p.settings.targetRatio)}% budget`
      : '';
  renderLeaderboard();
  renderGrid();
  renderPickers();
  renderRetention();
  renderMemory();
  persist();
}

function renderLeaderboard(): void {
  $('leaderboard-section').hidden = !leaderboard;
  if (!leaderboard) {
    $('leaderboard-plot').replaceChildren();
    $('leaderboard-table').replaceChildren();
    return;
  }
  drawLeaderboardPlot($('leaderboard-plot'), leaderboard);
  $('leaderboard-table').replaceChildren(leaderboardTable(leaderboard));
}

function renderGrid(): void {
  const p = activeProfile();
  $('grid-empty').hidden = !!p;
  if (!p) {
    $('grid').replaceChildren();
    grid = null;
    return;
  }
  grid = drawGrid($('grid'), p, {
    selected: selection,
    run,
    onSelect: (s) => select({ ...selection, layer: s.layer, scaleIndex: s.scaleIndex }),
    onHover: (t) => ($('hover').textContent = t ?? ''),
  });
}

function renderPickers(): void {
  const heads = run?.retention?.heads ?? run?.model.numHeads ?? activeProfile()?.model.numHeads ?? 1;
  const headSel = $<Select>('head');
  if (headSel.children.length !== heads)
    headSel.replaceChildren(...Array.from({ length: heads }, (_, h) => option(String(h), `head ${h}`)));
  headSel.value = String(selection.head);
  const rowSel = $<Select>('row');
  const rows = run?.retention?.batchRows ?? 2;
  rowSel.querySelector<Toggle>('vscode-option[value="1"]')!.disabled = rows < 2;
  rowSel.value = String(selection.row);
  const s = activeProfile()?.scales[selection.scaleIndex];
  $('selection-label').textContent =
    `layer ${selection.layer}, scale ${selection.scaleIndex}${s ? ` (${s.shape.h}×${s.shape.w})` : ''}, head ${selection.head}, ${selection.row ? 'unconditional' : 'conditional'} row`;
}

function option(value: string, label: string): HTMLElement {
  const o = document.createElement('vscode-option');
  o.setAttribute('value', value);
  o.textContent = label;
  return o;
}

/** the image goes beside the map unless the user unticked "Show the image" */
const imageShown = () => !!images[0] && $<Checkbox>('show-image').checked;

function renderImage(): void {
  const fig = $('image-figure');
  $('show-image').hidden = !images[0];
  const im = imageShown() ? images[0] : undefined;
  fig.hidden = !im;
  if (!im) return;
  const img = $<HTMLImageElement>('image');
  if (img.src !== im.dataUri) img.src = im.dataUri;
  $('image-caption').textContent = im.prompt;
}

function retentionWidth(): number {
  const row = document.querySelector('.retention-row') as HTMLElement;
  const imageW = imageShown() ? 220 : 0;
  return Math.max(320, (row?.clientWidth || 900) - imageW - 16);
}

function renderRetention(): void {
  renderImage();
  const canvas = $<HTMLCanvasElement>('retention');
  const note = $('retention-note');
  const show = (text: string, drawn: boolean, loading = false) => {
    note.textContent = text;
    canvas.hidden = !drawn;
    $('retention-loading').hidden = !loading;
    document.querySelectorAll<Toggle>('[data-figure="retention"]').forEach((b) => (b.disabled = !drawn));
  };
  if (!run) return show('Token retention needs a run: generate with ScaleKV to see which tokens each layer keeps.', false);
  if (!run.retention) return show('This run did not record kept tokens (generate with retention recording on).', false);
  if (!currentSlice()) return show('Loading the kept tokens…', false, true);
  const st = drawRetention(canvas, { schedule: run.schedule, upTo: selection.scaleIndex, kept: slice!.kept }, retentionWidth());
  const evicted = st.total - st.kept;
  show(
    `Layer ${selection.layer} holds ${st.kept} of the ${st.total} tokens generated up to scale ${selection.scaleIndex} (${((100 * st.kept) / st.total).toFixed(1)}%); ${evicted} evicted so far. Its cache held ${slice!.cacheLen} before this scale's eviction.`,
    true,
  );
}

function currentSlice(): RetentionSlice | null {
  const s = slice?.selection;
  if (!slice || !run || slice.runId !== run.id || !s) return null;
  return s.layer === selection.layer && s.scaleIndex === selection.scaleIndex && s.head === selection.head && s.row === selection.row
    ? slice
    : null;
}

function renderMemory(): void {
  const note = $('memory-note');
  $('agreement-box').hidden = !run?.fidelity?.tokenAgreement.length;
  document.querySelectorAll<HTMLElement>('#memory-section .figure-box').forEach((b) => b.classList.toggle('disabled', !run));
  if (!run) {
    note.textContent = 'Memory and fidelity need a run.';
    $('memory').replaceChildren();
    $('layer-memory').replaceChildren();
    $('agreement').replaceChildren();
    $('fidelity').replaceChildren();
    return;
  }
  const kv = run.kv;
  note.textContent = kv.finalFullBytes
    ? `After the last scale the cache holds ${((100 * kv.finalHeldBytes) / kv.finalFullBytes).toFixed(1)}% of a full cache; peak ${((100 * kv.peakBytes) / kv.fullPeakBytes).toFixed(1)}% of the full-cache peak. Click a bar to pick its scale.`
    : '';
  drawMemory($('memory'), kv, selection.scaleIndex, (si) => select({ ...selection, scaleIndex: si }));
  drawLayerMemory($('layer-memory'), kv, selection.scaleIndex);
  drawAgreement($('agreement'), run.fidelity, selection.scaleIndex);
  $('fidelity').replaceChildren(fidelityTable(run.fidelity));
}

function requestRetention(): void {
  if (run?.retention && selection.scaleIndex < run.schedule.length) post({ type: 'requestRetention', runId: run.id, selection });
}

function select(s: Selection): void {
  selection = s;
  clampSelection();
  post({ type: 'select', selection });
  requestRetention();
  grid?.setSelected(selection);
  renderPickers();
  renderRetention();
  renderMemory();
  persist();
}

function onMessage(m: ToWebview): void {
  switch (m.type) {
    case 'profile':
      try {
        profile = m.profile ? validateProfileShape(m.profile) : null;
        showError(null);
      } catch (e) {
        profile = null;
        showError('Cannot show this profile', (e as Error).message);
      }
      renderAll();
      break;
    case 'run':
      try {
        run = m.run ? validateRunShape(m.run) : null;
        images = Array.isArray(m.images)
          ? m.images.filter((i) => i && typeof i.dataUri === 'string' && i.dataUri.startsWith('data:image/'))
          : [];
        showError(null);
      } catch (e) {
        run = null;
        images = [];
        showError('Cannot show this run', (e as Error).message);
      }
      slice = null;
      renderAll();
      requestRetention();
      break;
    case 'retention':
      if (m.error) showError('Cannot read the kept tokens', m.error);
      try {
        slice = m.slice && run ? validateSlice(m.slice, totalTokens(run.schedule.slice(0, m.slice.selection.scaleIndex + 1))) : null;
      } catch (e) {
        slice = null;
        showError('Cannot show the kept tokens', (e as Error).message);
      }
      renderRetention();
      break;
    case 'leaderboard':
      try {
        leaderboard = m.leaderboard ? validateLeaderboard(m.leaderboard) : null;
        showError(null);
      } catch (e) {
        leaderboard = null;
        showError('Cannot show this leaderboard', (e as Error).message);
      }
      renderAll();
      break;
    case 'source':
      source = { runPath: m.state.runPath, profilePath: m.state.profilePath, leaderboardPath: m.state.leaderboardPath };
      persist();
      break;
    case 'error':
      showError('ScaleKV', m.message);
      break;
    default:
      showError('Unexpected message', JSON.stringify(m).slice(0, 200));
  }
}

window.addEventListener('message', (ev: MessageEvent<ToWebview>) => {
  try {
    onMessage(ev.data);
  } catch (e) {
    // whatever slipped past validation still ends in a readable panel, never a blank view
    showError('Cannot show this data', (e as Error).message);
    post({ type: 'error', message: (e as Error).message });
  }
});

$<Select>('head').addEventListener('change', () => select({ ...selection, head: Number($<Select>('head').value) }));
$<Select>('row').addEventListener('change', () => select({ ...selection, row: Number($<Select>('row').value) }));
$('show-image').addEventListener('change', renderRetention);
$('error-dismiss').addEventListener('click', () => showError(null));
document
  .querySelectorAll<HTMLElement>('[data-command]')
  .forEach((b) => b.addEventListener('click', () => post({ type: 'command', command: b.dataset.command! })));

const baseName = () => (run ? `scalekv-${run.id}` : `scalekv-${activeProfile()?.model.name ?? 'profile'}`);
const retentionView = () => (run && currentSlice() ? { schedule: run.schedule, upTo: selection.scaleIndex, kept: slice!.kept } : null);
const tag = () => `L${selection.layer}-S${selection.scaleIndex}-H${selection.head}-R${selection.row}`;

const figures: Record<string, FigureSource & { name: () => string }> = {
  grid: { name: () => `${baseName()}-grid`, svg: liveSvg($('grid')), csv: () => (activeProfile() ? gridCsv(activeProfile()!, run) : null) },
  retention: {
    name: () => `${baseName()}-retention-${tag()}`,
    svg: () => {
      const v = retentionView();
      return v ? retentionSvg(v, $('retention'), `${run!.model.name}: ${$('selection-label').textContent}`, retentionWidth()) : null;
    },
    csv: () => {
      const v = retentionView();
      return v ? retentionCsv(v) : null;
    },
  },
  memory: { name: () => `${baseName()}-memory`, svg: liveSvg($('memory')), csv: () => (run ? memoryCsv(run.kv) : null) },
  'layer-memory': { name: () => `${baseName()}-memory-S${selection.scaleIndex}`, svg: liveSvg($('layer-memory')) },
  agreement: {
    name: () => `${baseName()}-agreement`,
    svg: liveSvg($('agreement')),
    csv: () => (run?.fidelity ? fidelityCsv(run.fidelity) : null),
  },
  leaderboard: {
    name: () => `scalekv-leaderboard-${leaderboard?.model.name ?? ''}`,
    svg: liveSvg($('leaderboard-plot')),
    csv: () => (leaderboard ? leaderboardCsv(leaderboard) : null),
  },
};

async function exportClicked(b: Toggle): Promise<void> {
  // a disabled vscode-button still receives pointer clicks
  if (b.disabled) return;
  const f = figures[b.dataset.figure!];
  const kind = b.dataset.export as ExportKind;
  try {
    const data = await exportFigure(f, kind);
    if (data === null) return showError('Nothing to export', `The ${b.dataset.figure} figure has no data yet.`);
    post({ type: 'export', kind, suggestedName: `${f.name()}.${kind}`, data });
  } catch (e) {
    showError('Export failed', (e as Error).message);
  }
}
// exportClicked reports its own failures
document.querySelectorAll<Toggle>('[data-figure][data-export]').forEach((b) => b.addEventListener('click', () => void exportClicked(b)));
$('export-json').addEventListener('click', () =>
  post({
    type: 'export',
    kind: 'json',
    suggestedName: `${baseName()}.json`,
    data: JSON.stringify({ profile: activeProfile(), run, selection, retention: currentSlice(), leaderboard }, null, 2),
  }),
);

// the retention map wraps its panels to the width it has
let resizeTimer = 0;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(renderRetention, 100);
}).observe(document.querySelector('.retention-row')!);

restore();
renderAll();
post({ type: 'ready' });
// after a reload the restored selection still needs its kept tokens
requestRetention();
