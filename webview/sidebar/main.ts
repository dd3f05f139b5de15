/** The sidebar view's webview: renders SidebarState with VS Code Elements and turns button clicks into commands. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import { COMMANDS } from '../../src/shared/commandIds';
import type { FromSidebar, SidebarState, ToSidebar } from '../../src/shared/protocol';
import { escapeHtml } from '../shared/memory';

declare function acquireVsCodeApi(): {
  postMessage(m: FromSidebar): void;
  getState(): SidebarState | undefined;
  setState(s: SidebarState): void;
};
const vscode = acquireVsCodeApi();
const root = document.getElementById('root')!;

/** a full-width VS Code button that runs cmd; secondary for the less central actions */
function button(cmd: string, label: string, icon: string, secondary = false): string {
  // tabindex now, not at the element's first render: the focus moves back to it right after the redraw
  return `<vscode-button block ${secondary ? 'secondary ' : ''}icon="${icon}" tabindex="0" data-cmd="${cmd}" title="${label}">${label}</vscode-button>`;
}

function render(s: SidebarState): void {
  // the page is redrawn on every state: keep the keyboard focus on the same command
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.cmd;
  const model = s.model
    ? `<div class="kv"><b>${escapeHtml(s.model.name)}</b> · ${s.model.depth} layers · ${s.model.numHeads} heads · ${s.model.source === 'embedded' ? 'embedded' : escapeHtml(s.model.source)}</div>`
    : `<div class="muted">${s.modelError ? `<span class="err">${escapeHtml(s.modelError)}</span>` : 'Not loaded yet.'}</div>`;
  const provider = s.provider
    ? `<div class="kv">Runs on <b>${s.provider.used}</b> <span class="muted">(${escapeHtml(s.provider.reason)})</span></div>`
    : '';
  const installCuda = button(COMMANDS.installCudaProvider, 'Install CUDA Provider', 'desktop-download', true);
  const cuda =
    s.cuda?.state === 'installed'
      ? `<div class="kv">CUDA provider installed <span class="muted">(${escapeHtml(s.cuda.detail)})</span></div>`
      : s.cuda?.state === 'missing'
        ? `<div class="muted">CUDA provider not installed.</div>${installCuda}`
        : '';
  const profile = s.profile
    ? `<div class="kv">${escapeHtml(s.profile.path.split(/[\\/]/).pop() ?? '')} <span class="muted">${escapeHtml(s.profile.origin)}, ${(100 * s.profile.targetRatio).toFixed(0)}%</span></div>`
    : '<div class="muted">None: Calibrate or Import Budget.</div>';
  const runs = s.runs.length
    ? `<ul class="runs">${s.runs
        .map((r) => {
          const kv = r.kvHeldRatio === null ? '' : `KV ${(100 * r.kvHeldRatio).toFixed(1)}%`;
          const psnr = r.psnr === null ? '' : ` · PSNR ${r.psnr === Infinity ? '∞' : r.psnr.toFixed(1)} dB`;
          const args = escapeHtml(JSON.stringify([r.path]));
          return `<li><a href="#" data-cmd="${COMMANDS.openRun}" data-args='${args}'>${escapeHtml(r.policy)} · ${new Date(r.createdAt).toLocaleTimeString()}</a> <span class="muted">${kv}${psnr}</span></li>`;
        })
        .join('')}</ul>`
    : '<div class="muted">No runs yet.</div>';
  const busy = s.busy
    ? `<div class="busy"><vscode-progress-bar indeterminate aria-label="${escapeHtml(s.busy)}"></vscode-progress-bar><span>${escapeHtml(s.busy)}…</span>${button(COMMANDS.cancel, 'Cancel', 'debug-stop', true)}</div>`
    : '';
  root.innerHTML = `
  <section aria-labelledby="h-model"><h3 id="h-model">Model</h3>${model}${provider}${button(COMMANDS.selectModel, 'Select Model', 'folder-opened', true)}${cuda}</section>
  <section aria-labelledby="h-profile"><h3 id="h-profile">Profile</h3>${profile}${button(COMMANDS.calibrate, 'Calibrate', 'beaker', true)}${button(COMMANDS.importBudget, 'Import Budget', 'cloud-download', true)}${button(COMMANDS.exportProfile, 'Export Profile', 'export', true)}</section>
  <section aria-labelledby="h-run"><h3 id="h-run">Run</h3>${busy}${button(COMMANDS.generate, 'Generate', 'sparkle')}${button(COMMANDS.comparePolicies, 'Compare Policies', 'diff', true)}${button(COMMANDS.openVisualizer, 'Open Visualizer', 'graph', true)}</section>
  <section aria-labelledby="h-runs"><h3 id="h-runs">Recent runs</h3>${runs}</section>`;
  if (focused) root.querySelector<HTMLElement>(`[data-cmd="${focused}"]`)?.focus();
  vscode.setState(s);
}

root.addEventListener('click', (e) => {
  const el = (e.target as HTMLElement).closest<HTMLElement>('[data-cmd]');
  if (!el || el.hasAttribute('disabled')) return;
  e.preventDefault();
  vscode.postMessage({
    type: 'command',
    command: el.dataset.cmd!,
    args: el.dataset.args ? (JSON.parse(el.dataset.args) as unknown[]) : undefined,
  });
});

window.addEventListener('message', (ev: MessageEvent<ToSidebar>) => {
  if (ev.data.type === 'state') render(ev.data.state);
});

const saved = vscode.getState();
if (saved) render(saved);
else root.innerHTML = '<div class="muted">Starting the ScaleKV engine…</div>';
vscode.postMessage({ type: 'ready' });
