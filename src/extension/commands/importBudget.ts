/**
 * ScaleKV: Import Budget. Reads an official budget table or a ScaleKV profile (asks for the file, or
 * takes its path), checks it fits the current model, saves it under <output>/profiles and loads it.
 * Returns the saved profile's path.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { readProfileOrTable } from '../../engine/policySpec';
import { checkProfileMatches } from '../../scalekv/profile';
import { writeFileAtomic } from '../../shared/outputFiles';
import type { ExtensionState } from '../state';

export function importBudgetCommand(state: ExtensionState) {
  return async (file?: string): Promise<string | undefined> => {
    const f =
      file ??
      (
        await vscode.window.showOpenDialog({
          canSelectMany: false,
          filters: { JSON: ['json'] },
          title: 'Official ScaleKV budget table or ScaleKV profile',
        })
      )?.[0]?.fsPath;
    if (!f) return undefined;
    try {
      const ref = await state.modelRef();
      const prof = readProfileOrTable(f, ref);
      checkProfileMatches(prof, ref, basename(f));
      const dir = join(state.outputRoot(), 'profiles');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, `imported-${basename(f).replace(/\.json$/, '')}.json`);
      writeFileAtomic(out, JSON.stringify(prof, null, 2));
      state.setProfile(out, prof);
      void vscode.window.showInformationMessage(`ScaleKV: imported ${basename(f)} for ${prof.model.name}.`);
      return out;
    } catch (e) {
      void vscode.window.showErrorMessage(`ScaleKV: ${(e as Error).message}`);
      return undefined;
    }
  };
}
