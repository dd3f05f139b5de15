/**
 * ScaleKV: Install CUDA Provider. A .vsix installed by VS Code runs no npm install step, so this fetches
 * what onnxruntime-node's install step would (src/engine/cudaProvider.ts), with progress and Cancel in a
 * notification, into the extension's global storage; the engine loads it when it next starts.
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import { BINDING_DIR_ENV, cudaSource, installCudaProvider, installedCudaProvider, type InstalledCuda } from '../engine/cudaProvider';
import type { SidebarState } from '../shared/protocol';

const mb = (n: number) => (n / 2 ** 20).toFixed(1);

export class CudaProviderSetup {
  private readonly ortDir: string;
  private readonly storage: string;

  constructor(ctx: vscode.ExtensionContext) {
    this.ortDir = join(ctx.extensionPath, 'node_modules', 'onnxruntime-node');
    this.storage = ctx.globalStorageUri.fsPath;
  }

  installed(): InstalledCuda | null {
    try {
      return installedCudaProvider(this.storage, this.ortDir);
    } catch {
      return null;
    }
  }

  /** what the engine process needs to load the installed provider */
  engineEnv(): NodeJS.ProcessEnv {
    const i = this.installed();
    return i ? { [BINDING_DIR_ENV]: i.dir } : {};
  }

  state(): NonNullable<SidebarState['cuda']> {
    try {
      cudaSource(this.ortDir);
    } catch (e) {
      return { state: 'unavailable', detail: (e as Error).message };
    }
    const i = this.installed();
    return i ? { state: 'installed', detail: `${i.manifest.package.id} ${i.manifest.package.version}` } : { state: 'missing', detail: '' };
  }

  /** the command: returns the installed folder, or undefined when refused, failed or cancelled */
  async install(): Promise<string | undefined> {
    try {
      cudaSource(this.ortDir);
    } catch (e) {
      void vscode.window.showErrorMessage(`ScaleKV: ${(e as Error).message}`);
      return undefined;
    }
    try {
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'ScaleKV: Installing the CUDA provider', cancellable: true },
        (progress, token) => {
          const ac = new AbortController();
          token.onCancellationRequested(() => ac.abort());
          let shown = 0;
          return installCudaProvider({
            ortDir: this.ortDir,
            storageDir: this.storage,
            // a NuGet mirror (v3 service index) instead of the metadata's feed; the .vsix test's local feed
            feedIndex: process.env.SCALEKV_CUDA_FEED || undefined,
            signal: ac.signal,
            onProgress: (p) => {
              if (p.phase !== 'download')
                return progress.report({
                  message: p.phase === 'resolve' ? 'finding the package…' : p.phase === 'unpack' ? 'unpacking…' : 'done',
                });
              const pct = (100 * p.received!) / p.total!;
              progress.report({ message: `${mb(p.received!)} of ${mb(p.total!)} MB`, increment: pct - shown });
              shown = pct;
            },
          });
        },
      );
      const from =
        r.manifest.package.digestFrom === 'pinned' ? 'the size and hash recorded in ScaleKV' : 'the size and SHA-512 NuGet publishes';
      void vscode.window.showInformationMessage(
        `ScaleKV: installed the CUDA provider of ${r.manifest.package.id} ${r.manifest.package.version} (checked against ${from}). ` +
          'The engine loads it when it next starts.',
      );
      return r.dir;
    } catch (e) {
      const err = e as { code?: string; message: string };
      if (err.code === 'E_CANCELLED')
        void vscode.window.showInformationMessage('ScaleKV: CUDA provider installation cancelled; nothing was changed.');
      else void vscode.window.showErrorMessage(`ScaleKV: the CUDA provider was not installed: ${err.message}`);
      return undefined;
    }
  }
}
