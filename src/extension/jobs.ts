/**
 * Runs an engine request under vscode.window.withProgress with cancellation, reporting the engine's
 * per-scale progress, and turns engine errors into clear messages. One job at a time per window,
 * so "ScaleKV: Cancel" knows what to stop.
 */
import * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import type { EngineMethod, EngineReplyOf, EngineRequestOf } from '../engine/protocol';
import type { ScaleKVError } from '../shared/errors';

export class JobRunner {
  private current: vscode.CancellationTokenSource | null = null;
  constructor(
    private readonly client: EngineClient,
    private readonly onBusy: (label: string | null) => void,
  ) {}

  get busy(): boolean {
    return this.current !== null;
  }

  cancel(): boolean {
    if (!this.current) return false;
    this.current.cancel();
    return true;
  }

  /** runs one engine method; undefined when another job runs, or this one failed or was cancelled (the user is told) */
  async run<M extends EngineMethod>(title: string, method: M, request: EngineRequestOf[M]): Promise<EngineReplyOf[M] | undefined> {
    if (this.current) {
      void vscode.window.showWarningMessage('A ScaleKV job is already running. Cancel it first (ScaleKV: Cancel).');
      return undefined;
    }
    const cts = new vscode.CancellationTokenSource();
    this.current = cts;
    this.onBusy(title);
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ScaleKV: ${title}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => cts.cancel());
          let last = 0;
          return await this.client.request(method, request, {
            token: cts.token,
            onProgress: (p) => {
              const pct = Math.round(p.fraction * 100);
              progress.report({ message: p.message, increment: Math.max(0, pct - last) });
              last = Math.max(last, pct);
            },
          });
        },
      );
    } catch (e) {
      const err = e as ScaleKVError;
      if (err.code === 'E_CANCELLED') void vscode.window.showInformationMessage(`ScaleKV: ${title} cancelled.`);
      else void vscode.window.showErrorMessage(`ScaleKV: ${title} failed: ${err.message}${err.code ? ` (${err.code})` : ''}`);
      return undefined;
    } finally {
      cts.dispose();
      this.current = null;
      this.onBusy(null);
    }
  }
}
