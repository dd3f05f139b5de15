/**
 * ScaleKV: Export Profile: the loaded profile in full, or as an official budget table. With arguments
 * (scripts, tests) it asks nothing: { kind: 'profile' | 'official', target: path }. Returns the path written.
 */
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { formatOfficialTable, profileToOfficial } from '../../scalekv/profile';
import type { ExtensionState } from '../state';

export interface ExportProfileArgs {
  kind: 'profile' | 'official';
  target: string;
}

export function exportProfileCommand(state: ExtensionState) {
  return async (opts?: ExportProfileArgs): Promise<string | undefined> => {
    const profilePath = state.profilePath;
    if (!profilePath) {
      void vscode.window.showWarningMessage('ScaleKV: no profile loaded. Calibrate or import one first.');
      return undefined;
    }
    let official = opts?.kind === 'official';
    let target = opts?.target ? vscode.Uri.file(opts.target) : undefined;
    if (!opts) {
      const kind = await vscode.window.showQuickPick(['ScaleKV profile (full)', 'Official budget table'], {
        title: 'ScaleKV: Export Profile',
      });
      if (!kind) return undefined;
      official = kind.startsWith('Official');
      target = await vscode.window.showSaveDialog({
        filters: { JSON: ['json'] },
        defaultUri: vscode.Uri.file(profilePath.replace(/\.json$/, official ? '-official.json' : '-export.json')),
      });
    }
    if (!target) return undefined;
    try {
      const prof = state.loadProfile(profilePath);
      await vscode.workspace.fs.writeFile(
        target,
        Buffer.from(official ? formatOfficialTable(profileToOfficial(prof)) : JSON.stringify(prof, null, 2)),
      );
    } catch (e) {
      void vscode.window.showErrorMessage(`ScaleKV: cannot export ${basename(profilePath)}: ${(e as Error).message}`);
      return undefined;
    }
    if (!opts) void vscode.window.showInformationMessage(`ScaleKV: saved ${target.fsPath}`);
    return target.fsPath;
  };
}
