/** Typed access to the extension's settings (contributes.configuration in package.json). */
import * as vscode from 'vscode';
import { DEFAULT_ASI_TOP_K } from '../scalekv/asi';
import type { AsiMode, BudgetRule, PolicyName, ProviderSetting, WindowQueryMode } from '../shared/types';

export interface Settings {
  modelPath: string | undefined;
  provider: ProviderSetting;
  ratio: number;
  windowSize: number;
  poolingKernel: number;
  queryMode: WindowQueryMode;
  promptsFile: string;
  outputFolder: string;
  resolution: string;
  cfg: number;
  policy: PolicyName;
  asiTopK: number;
  asiMode: AsiMode;
  budgetRule: BudgetRule;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('scalekv');
  return {
    modelPath: c.get<string>('modelPath') || undefined,
    provider: c.get<ProviderSetting>('executionProvider', 'auto'),
    ratio: c.get<number>('defaultRatio', 0.1),
    windowSize: c.get<number>('windowSize', 16),
    poolingKernel: c.get<number>('poolingKernel', 5),
    queryMode: c.get<WindowQueryMode>('queryMode', 'code'),
    promptsFile: c.get<string>('calibrationPromptsFile', ''),
    outputFolder: c.get<string>('outputFolder', ''),
    resolution: c.get<string>('resolution', '1M'),
    cfg: c.get<number>('cfg', 3),
    policy: c.get<PolicyName>('defaultPolicy', 'scalekv'),
    asiTopK: c.get<number>('asiTopK', DEFAULT_ASI_TOP_K),
    asiMode: c.get<AsiMode>('asiMode', 'eq2'),
    budgetRule: c.get<BudgetRule>('budgetRule', 'official'),
  };
}

export function outputRoot(ctx: vscode.ExtensionContext, s: Settings): string {
  if (s.outputFolder) return s.outputFolder;
  const ws = vscode.workspace.workspaceFolders?.[0];
  return ws ? vscode.Uri.joinPath(ws.uri, 'scalekv-runs').fsPath : vscode.Uri.joinPath(ctx.globalStorageUri, 'runs').fsPath;
}
