/** Typed access to the extension's settings (contributes.configuration in package.json). */
import { mkdirSync } from 'node:fs';
import * as vscode from 'vscode';
import type { AsiMode, BudgetRule, PolicyName, Precision, ProviderSetting, Settings, WindowQueryMode } from '../shared/types';
import { SETTING_DEFAULTS } from './settingDefaults';

export type { Settings } from '../shared/types';

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('scalekv');
  const d = SETTING_DEFAULTS;
  return {
    modelPath: c.get<string>('modelPath', d.modelPath) || undefined,
    provider: c.get<ProviderSetting>('executionProvider', d.executionProvider),
    precision: c.get<Precision>('precision', d.precision),
    ratio: c.get<number>('defaultRatio', d.defaultRatio),
    windowSize: c.get<number>('windowSize', d.windowSize),
    poolingKernel: c.get<number>('poolingKernel', d.poolingKernel),
    queryMode: c.get<WindowQueryMode>('queryMode', d.queryMode),
    promptsFile: c.get<string>('calibrationPromptsFile', d.calibrationPromptsFile),
    outputFolder: c.get<string>('outputFolder', d.outputFolder),
    resolution: c.get<string>('resolution', d.resolution),
    cfg: c.get<number>('cfg', d.cfg),
    tau: c.get<number>('tau', d.tau),
    policy: c.get<PolicyName>('defaultPolicy', d.defaultPolicy),
    asiTopK: c.get<number>('asiTopK', d.asiTopK),
    asiMode: c.get<AsiMode>('asiMode', d.asiMode),
    budgetRule: c.get<BudgetRule>('budgetRule', d.budgetRule),
  };
}

/**
 * Where runs and profiles go. The default folder is made here (the extension's storage may not exist
 * yet); a folder the user configured is not: the engine checks it before a run and says what is wrong.
 */
export function outputRoot(ctx: vscode.ExtensionContext, s: Settings): string {
  if (s.outputFolder) return s.outputFolder;
  const ws = vscode.workspace.workspaceFolders?.[0];
  const dir = ws ? vscode.Uri.joinPath(ws.uri, 'scalekv-runs').fsPath : vscode.Uri.joinPath(ctx.globalStorageUri, 'runs').fsPath;
  mkdirSync(dir, { recursive: true });
  return dir;
}
