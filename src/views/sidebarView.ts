/** The activity-bar view: model and provider (and why), loaded profile, recent runs, main commands. */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { sidebarHtml } from '../../webview/sidebar/html';
import type { FromSidebar, SidebarState, ToSidebar } from '../shared/protocol';
import { ReadyWatchdog } from './readyWatchdog';
import { checkWebviewCommand } from './webviewCommand';

export class SidebarView implements vscode.WebviewViewProvider {
  static readonly id = 'scalekv.sidebar';
  private view?: vscode.WebviewView;
  private state: SidebarState = { model: null, provider: null, profile: null, runs: [], busy: null };
  // a page whose script never ran stays blank: load it again (readyWatchdog.ts)
  private readonly watchdog = new ReadyWatchdog({
    timeoutMs: 10_000,
    attempts: 3,
    reload: () => this.view && this.load(this.view),
    gaveUp: () => void vscode.window.showWarningMessage('ScaleKV: the sidebar did not load; run "Developer: Reload Window".'),
  });

  constructor(private readonly extensionUri: vscode.Uri) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media')] };
    this.load(view);
    view.webview.onDidReceiveMessage((m: FromSidebar) => {
      if (m.type === 'ready') {
        this.watchdog.ready();
        this.push();
      } else if (m.type === 'command') {
        const c = checkWebviewCommand(m.command, m.args);
        if ('refused' in c) void vscode.window.showWarningMessage(`ScaleKV sidebar: ${c.refused}`);
        else void vscode.commands.executeCommand(c.id, ...c.args);
      }
    });
    // the webview queues what is posted before its page loads; pushing now and when the view shows
    // again means the state never waits on one 'ready' message getting through
    view.onDidChangeVisibility(() => {
      if (!view.visible) return this.watchdog.stop();
      // a view shown again loads its page again
      this.watchdog.arm();
      this.push();
    });
    view.onDidDispose(() => this.watchdog.stop());
    this.push();
  }

  private load(view: vscode.WebviewView): void {
    const media = (f: string) => view.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', ...f.split('/'))).toString();
    view.webview.html = sidebarHtml({
      scriptUri: media('dist/sidebar.js'),
      styleUri: media('sidebar.css'),
      codiconsUri: media('dist/codicons/codicon.css'),
      nonce: randomBytes(16).toString('base64'),
      cspSource: view.webview.cspSource,
    });
    // a hidden view's page does not run: it is due once the view shows
    if (view.visible) this.watchdog.arm();
  }

  update(patch: Partial<SidebarState>): void {
    this.state = { ...this.state, ...patch };
    this.push();
  }

  get current(): SidebarState {
    return this.state;
  }

  private push(): void {
    void this.view?.webview.postMessage({ type: 'state', state: this.state } satisfies ToSidebar);
  }
}
