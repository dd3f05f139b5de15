/**
 * The visualizer panel's host side: loads the webview bundle with asWebviewUri under a nonce'd CSP,
 * sends profiles and runs, answers retention requests from the run's side file, saves exports, and
 * comes back after a reload through a WebviewPanelSerializer.
 */
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { readSmallFile } from '../shared/files';
import * as vscode from 'vscode';
import { visualizerHtml } from '../../webview/visualizer/html';
import type { FromWebview, ToWebview, VisualizerState } from '../shared/protocol';
import type { Leaderboard, RunRecord, ScaleKVProfile } from '../shared/types';
import { readRetentionSlice } from './retentionReader';
import { readRunImages, readRunRecord } from './runFolder';
import { checkWebviewCommand } from './webviewCommand';

const VIEW_TYPE = 'scalekv.visualizer';

export class VisualizerPanel {
  static current: VisualizerPanel | undefined;
  private state: VisualizerState = {};
  private run: RunRecord | null = null;
  private leaderboard: Leaderboard | null = null;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly loadProfile: (path: string) => ScaleKVProfile,
  ) {
    panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')] };
    panel.webview.html = this.html();
    panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m));
    panel.onDidDispose(() => {
      if (VisualizerPanel.current === this) VisualizerPanel.current = undefined;
    });
  }

  static show(extensionUri: vscode.Uri, loadProfile: (p: string) => ScaleKVProfile, state: VisualizerState = {}): VisualizerPanel {
    if (VisualizerPanel.current) {
      VisualizerPanel.current.panel.reveal();
    } else {
      const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'ScaleKV Visualizer', vscode.ViewColumn.Active, {
        enableScripts: true,
        retainContextWhenHidden: true,
      });
      VisualizerPanel.current = new VisualizerPanel(panel, extensionUri, loadProfile);
    }
    VisualizerPanel.current.load(state);
    return VisualizerPanel.current;
  }

  static revive(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    loadProfile: (p: string) => ScaleKVProfile,
    state: VisualizerState | undefined,
  ): void {
    VisualizerPanel.current = new VisualizerPanel(panel, extensionUri, loadProfile);
    VisualizerPanel.current.load(state ?? {});
  }

  private html(): string {
    const w = this.panel.webview;
    const media = (f: string) => w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', ...f.split('/'))).toString();
    return visualizerHtml({
      scriptUri: media('dist/visualizer.js'),
      styleUri: media('visualizer.css'),
      codiconsUri: media('dist/codicons/codicon.css'),
      nonce: randomBytes(16).toString('base64'),
      cspSource: w.cspSource,
    });
  }

  private post(m: ToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  /** show a profile, a run and/or a leaderboard (paths); keeps what is not given */
  load(state: VisualizerState): void {
    this.state = { ...this.state, ...state };
    if (state.runPath) {
      try {
        this.run = readRunRecord(state.runPath);
      } catch (e) {
        this.post({ type: 'error', message: `Cannot read the run ${state.runPath}: ${(e as Error).message}` });
      }
    }
    if (state.leaderboardPath) {
      try {
        this.leaderboard = JSON.parse(readSmallFile(state.leaderboardPath, 64 * 2 ** 20, 'leaderboard')) as Leaderboard;
      } catch (e) {
        this.post({ type: 'error', message: `Cannot read the leaderboard ${state.leaderboardPath}: ${(e as Error).message}` });
      }
    }
    this.sendAll();
  }

  private sendAll(): void {
    const { runPath, profilePath, leaderboardPath } = this.state;
    this.post({ type: 'source', state: { runPath, profilePath, leaderboardPath } });
    if (this.leaderboard) this.post({ type: 'leaderboard', leaderboard: this.leaderboard });
    if (this.state.profilePath) {
      try {
        this.post({ type: 'profile', profile: this.loadProfile(this.state.profilePath) });
      } catch (e) {
        this.post({ type: 'error', message: (e as Error).message });
      }
    }
    if (this.run && this.state.runPath) {
      // only files inside the run's folder; the others are named in an error instead of being read
      const { images, problems } = readRunImages(this.state.runPath, this.run);
      this.post({ type: 'run', run: this.run, images });
      if (problems.length) this.post({ type: 'error', message: problems.join(' ') });
    }
  }

  private async onMessage(m: FromWebview): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.sendAll();
        break;
      case 'select':
        this.state.selection = m.selection;
        break;
      case 'requestRetention':
        if (!this.run || !this.state.runPath) return this.post({ type: 'retention', slice: null, error: 'The run is no longer loaded.' });
        // a webview restored from its own state may still show another run: send the current one
        if (this.run.id !== m.runId) return this.sendAll();
        try {
          this.post({ type: 'retention', slice: readRetentionSlice(dirname(this.state.runPath), this.run, m.selection) });
        } catch (e) {
          this.post({ type: 'retention', slice: null, error: (e as Error).message });
        }
        break;
      case 'export': {
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
        const target = await vscode.window.showSaveDialog({
          defaultUri: folder ? vscode.Uri.joinPath(folder, m.suggestedName) : undefined,
          filters: { [m.kind.toUpperCase()]: [m.kind] },
        });
        if (!target) return;
        const bytes = m.kind === 'png' ? Buffer.from(m.data, 'base64') : Buffer.from(m.data, 'utf8');
        await vscode.workspace.fs.writeFile(target, bytes);
        void vscode.window.showInformationMessage(`Saved ${target.fsPath}`);
        break;
      }
      case 'command': {
        const c = checkWebviewCommand(m.command);
        if ('refused' in c) void vscode.window.showWarningMessage(`ScaleKV visualizer: ${c.refused}`);
        else void vscode.commands.executeCommand(c.id);
        break;
      }
      case 'error':
        void vscode.window.showErrorMessage(`ScaleKV visualizer: ${m.message}`);
        break;
    }
  }

  get viewState(): VisualizerState {
    return this.state;
  }
}

export function registerVisualizerSerializer(ctx: vscode.ExtensionContext, loadProfile: (p: string) => ScaleKVProfile): void {
  ctx.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        // the webview's state is saved with the editor and names the files it showed; the memento is
        // the fallback (an extension's memento writes can be lost when a window closes abruptly)
        const own = state as VisualizerState | undefined;
        const saved =
          own?.runPath || own?.profilePath || own?.leaderboardPath
            ? { runPath: own.runPath, profilePath: own.profilePath, leaderboardPath: own.leaderboardPath, selection: own.selection }
            : ctx.workspaceState.get<VisualizerState>('scalekv.visualizer');
        VisualizerPanel.revive(panel, ctx.extensionUri, loadProfile, saved);
      },
    }),
  );
}
