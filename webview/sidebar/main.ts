/** The sidebar view's webview: renders SidebarState and turns button clicks into commands. */
import type { FromSidebar, SidebarState, ToSidebar } from '../../src/shared/protocol';
import { escapeHtml } from '../shared/memory';

declare function acquireVsCodeApi(): { postMessage(m: FromSidebar): void; getState(): SidebarState | undefined; setState(s: SidebarState): void };
const vscode = acquireVsCodeApi();
const root = document.getElementById('root')!;

function button(cmd: string, label: string, icon: string, args?: unknown[]): string {
  return `<button data-cmd="${cmd}" ${args ? `data-args='${escapeHtml(JSON.stringify(args))}'` : ''} title="${label}"><span class="icon">${icon}</span>${label}</button>`;
}

function render(s: SidebarState): void {
  const model = s.model
    ? `<div class="kv"><b>${escapeHtml(s.model.name)}</b> · ${s.model.depth} layers · ${s.model.numHeads} heads · ${s.model.source === 'embedded' ? 'embedded' : escapeHtml(s.model.source)}</div>`
    : `<div class="muted">${s.modelError ? `<span class="err">${escapeHtml(s.modelError)}</span>` : 'Not loaded yet.'}</div>`;
  const provider = s.provider ? `<div class="kv">Runs on <b>${s.provider.used}</b> <span class="muted">(${escapeHtml(s.provider.reason)})</span></div>` : '';
  const cuda =
    s.cuda?.state === 'installed'
      ? `<div class="kv">CUDA provider installed <span class="muted">(${escapeHtml(s.cuda.detail)})</span></div>`
      : s.cuda?.state === 'missing'
        ? `<div class="muted">CUDA provider not installed.</div>${button('scalekv.installCudaProvider', 'Install CUDA Provider', '⇩')}`
        : '';
  const profile = s.profile ? `<div class="kv">${escapeHtml(s.profile.path.split(/[\\/]/).pop() ?? '')} <span class="muted">${escapeHtml(s.profile.origin)}, ${(100 * s.profile.targetRatio).toFixed(0)}%</span></div>` : '<div class="muted">None: Calibrate or Import Budget.</div>';
  const runs = s.runs.length
    ? `<ul class="runs">${s.runs
        .map(
          (r) =>
            `<li><a href="#" data-cmd="scalekv.openRun" data-args='${escapeHtml(JSON.stringify([r.path]))}'>${escapeHtml(r.policy)} · ${new Date(r.createdAt).toLocaleTimeString()}</a> <span class="muted">${r.kvHeldRatio === null ? '' : `KV ${(100 * r.kvHeldRatio).toFixed(1)}%`}${r.psnr === null ? '' : ` · PSNR ${r.psnr === Infinity ? '∞' : r.psnr.toFixed(1)} dB`}</span></li>`,
        )
        .join('')}</ul>`
    : '<div class="muted">No runs yet.</div>';
  root.innerHTML = `
  <section><h3>Model</h3>${model}${provider}${button('scalekv.selectModel', 'Select Model', '⌂')}${cuda}</section>
  <section><h3>Profile</h3>${profile}${button('scalekv.calibrate', 'Calibrate', '⚗')}${button('scalekv.importBudget', 'Import Budget', '⇩')}${button('scalekv.exportProfile', 'Export Profile', '⇧')}</section>
  <section><h3>Run</h3>${s.busy ? `<div class="busy">${escapeHtml(s.busy)} ${button('scalekv.cancel', 'Cancel', '■')}</div>` : ''}${button('scalekv.generate', 'Generate', '✦')}${button('scalekv.comparePolicies', 'Compare Policies', '⇄')}${button('scalekv.openVisualizer', 'Open Visualizer', '▦')}</section>
  <section><h3>Recent runs</h3>${runs}</section>`;
  vscode.setState(s);
}

root.addEventListener('click', (e) => {
  const el = (e.target as HTMLElement).closest('[data-cmd]') as HTMLElement | null;
  if (!el) return;
  e.preventDefault();
  vscode.postMessage({ type: 'command', command: el.dataset.cmd!, args: el.dataset.args ? JSON.parse(el.dataset.args) : undefined });
});

window.addEventListener('message', (ev: MessageEvent<ToSidebar>) => {
  if (ev.data.type === 'state') render(ev.data.state);
});

const saved = vscode.getState();
if (saved) render(saved);
else root.innerHTML = '<div class="muted">Starting the ScaleKV engine…</div>';
vscode.postMessage({ type: 'ready' });
