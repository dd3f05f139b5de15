/**
 * ScaleKV: Select Model. Asks for the embedded model, a folder or a transformer file (or takes a path;
 * '' is the embedded model), checks that the engine can describe it, and only then saves it as
 * scalekv.modelPath. Returns whether the model is now in use.
 */
import * as vscode from 'vscode';
import type { ExtensionState } from '../state';

export function selectModelCommand(state: ExtensionState) {
  return async (path?: string): Promise<boolean | undefined> => {
    const chosen = path ?? (await ask());
    if (chosen === undefined) return undefined;
    // check before saving: a folder with missing files changes nothing
    try {
      const m = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'ScaleKV: checking the model…' },
        () => state.describe(chosen || undefined),
      );
      await vscode.workspace.getConfiguration('scalekv').update('modelPath', chosen, vscode.ConfigurationTarget.Global);
      state.useModel(m);
      void state.describe().catch(() => undefined);
      void vscode.window.showInformationMessage(`ScaleKV: using ${m.name} (${m.depth} layers, ${m.numHeads} heads).`);
      return true;
    } catch (e) {
      void vscode.window.showErrorMessage(`ScaleKV: cannot use that model: ${(e as Error).message}`);
      return false;
    }
  };
}

/** '' for the embedded model, a path, or undefined when the user backs out */
async function ask(): Promise<string | undefined> {
  const pick = await vscode.window.showQuickPick(
    [
      {
        label: 'Embedded model (infinity-shapes)',
        description: 'trained on drawn shapes at 512x512; runs on a CPU in seconds',
        source: 'embedded' as const,
      },
      { label: 'Folder…', description: 'infinity_*.pth, infinity_vae_*.pth and flan-t5-xl/', source: 'folder' as const },
      { label: 'Transformer file…', description: '.pth or .safetensors (VAE and text encoder beside it)', source: 'file' as const },
    ],
    { title: 'ScaleKV: Select Model' },
  );
  if (!pick) return undefined;
  if (pick.source === 'embedded') return '';
  const folder = pick.source === 'folder';
  const uri = await vscode.window.showOpenDialog({
    canSelectFiles: !folder,
    canSelectFolders: folder,
    filters: folder ? undefined : { Checkpoints: ['pth', 'pt', 'bin', 'safetensors', 'json'] },
  });
  return uri?.[0]?.fsPath;
}
