/**
 * ScaleKV: Calibrate. Asks which model, which prompts and which target budget (or takes a partial
 * CalibrateRequest, then asks nothing and returns the profile's path), writes the profile under
 * <output>/profiles and loads it.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { COMMANDS } from '../../shared/commandIds';
import { calibrateRequest } from '../../shared/requests';
import type { CalibrateRequest } from '../../shared/types';
import type { ExtensionState } from '../state';
import { askRatio, STEP } from './ask';

export function calibrateCommand(state: ExtensionState) {
  return async (opts?: Partial<CalibrateRequest>): Promise<string | undefined> => {
    const s = state.settings();
    let choice: { prompts: string[]; ratio: number } | undefined = { prompts: [], ratio: s.ratio };
    if (!opts) choice = await ask(state);
    if (!choice) return undefined;
    const dir = join(state.outputRoot(s), 'profiles');
    mkdirSync(dir, { recursive: true });
    const resolution = opts?.resolution ?? s.resolution;
    const pct = Math.round((opts?.targetRatio ?? choice.ratio) * 100);
    const outPath = join(dir, `profile-${resolution}-${pct}pct.json`);
    const { windowSize, poolingKernel, asiTopK, asiMode, budgetRule } = s;
    const tuning = { windowSize, poolingKernel, asiTopK, asiMode, budgetRule };
    // the model read again: the first step may have selected another one
    const modelPath = state.settings().modelPath;
    const chosen = { modelPath, prompts: choice.prompts, ratio: choice.ratio, resolution, cfg: s.cfg, provider: s.provider };
    const req: CalibrateRequest = { ...calibrateRequest({ ...chosen, outPath, ...tuning }), ...opts };
    const r = await state.jobs.run('Calibrating', 'calibrate', req);
    if (!r) return undefined;
    state.setProfile(r.profilePath, r.profile);
    if (!opts) {
      const pick = await vscode.window.showInformationMessage(
        `ScaleKV: calibrated ${r.profile.model.name} on ${r.profile.calibration?.prompts.length} prompts.`,
        'Open Visualizer',
      );
      if (pick) state.openVisualizer({ profilePath: r.profilePath });
    }
    return r.profilePath;
  };
}

/** model, prompts (none: the engine's built-in ones) and target ratio; undefined when the user backs out */
async function ask(state: ExtensionState): Promise<{ prompts: string[]; ratio: number } | undefined> {
  const s = state.settings();
  const current = state.model ?? (await state.describe().catch(() => null));
  const which = await vscode.window.showQuickPick(
    [
      {
        label: current ? current.name : 'the configured model',
        description: current ? `${current.depth} layers, ${current.numHeads} heads (current)` : 'not loaded yet',
        other: false,
      },
      { label: 'Another model…', description: 'choose a folder or checkpoint first (ScaleKV: Select Model)', other: true },
    ],
    { ...STEP, title: 'ScaleKV: Calibrate (1/3)', placeHolder: 'Model to calibrate' },
  );
  if (!which) return undefined;
  if (which.other && !(await vscode.commands.executeCommand<boolean>(COMMANDS.selectModel))) return undefined;
  const src = await vscode.window.showQuickPick(
    [
      { label: 'Built-in prompts', description: '10 varied prompts, as the paper calibrates', file: false },
      { label: 'Prompts file…', description: s.promptsFile || 'one prompt per line', file: true },
    ],
    { ...STEP, title: 'ScaleKV: Calibrate (2/3)', placeHolder: 'Calibration prompts' },
  );
  if (!src) return undefined;
  let prompts: string[] = [];
  if (src.file) {
    const file = s.promptsFile || (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Text: ['txt'] } }))?.[0]?.fsPath;
    if (!file) return undefined;
    prompts = readPrompts(file);
    if (!prompts.length) {
      void vscode.window.showErrorMessage(`ScaleKV: ${file} has no prompts.`);
      return undefined;
    }
  }
  const ratio = await askRatio(s.ratio, 'ScaleKV: Calibrate (3/3): target KV budget');
  return ratio === undefined ? undefined : { prompts, ratio };
}

/** one prompt per line; blank lines and # comments skipped */
function readPrompts(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}
