/**
 * ScaleKV: Evaluate Policies: every chosen policy at every ratio against the full cache over a prompt
 * set, ranked in a leaderboard the visualizer opens. With arguments it asks nothing (EvaluateOptions)
 * and returns the leaderboard's JSON path. The folder is named after the request, so running the same
 * evaluation again resumes it.
 */
import * as vscode from 'vscode';
import { candidatePolicies, evaluationFolder } from '../../engine/evaluatePlan';
import { readPromptsFile } from '../../engine/prompts';
import { DEFAULTS } from '../../shared/defaults';
import type { BudgetRuleName, EvaluateRequest, PolicyName } from '../../shared/types';
import type { ExtensionState } from '../state';
import { STEP } from './ask';

/** arguments of scalekv.evaluate for scripts and tests */
export interface EvaluateOptions {
  prompts?: string[];
  promptsFile?: string;
  policies?: PolicyName[];
  ratios?: number[];
  seeds?: number[];
  resolution?: string;
  ablation?: boolean;
  budgetRules?: BudgetRuleName[];
  outDir?: string;
}

const DEFAULT_RATIOS = [0.04, 0.1, 0.2];

export function evaluateCommand(state: ExtensionState) {
  return async (opts?: EvaluateOptions): Promise<string | undefined> => {
    const s = state.settings();
    let choice: Pick<EvaluateOptions, 'prompts' | 'policies' | 'ratios'> | undefined;
    try {
      choice = opts ? { ...opts, prompts: opts.promptsFile ? readPromptsFile(opts.promptsFile) : opts.prompts } : await ask();
    } catch (e) {
      void vscode.window.showErrorMessage(`ScaleKV: ${(e as Error).message}`);
      return undefined;
    }
    if (!choice) return undefined;
    if (!choice.prompts?.length) {
      void vscode.window.showErrorMessage('ScaleKV: Evaluate needs prompts (a prompts file, one per line).');
      return undefined;
    }
    // the ablation and the rule comparison calibrate their own profiles
    const ownProfiles = opts?.ablation || opts?.budgetRules?.length;
    // key order as before the commands were split: the folder's name hashes this object, and resuming needs the same name
    const body: Omit<EvaluateRequest, 'outDir'> = {
      modelPath: s.modelPath,
      prompts: choice.prompts,
      seeds: opts?.seeds ?? [DEFAULTS.seed],
      policies: choice.policies ?? candidatePolicies(),
      ratios: choice.ratios ?? DEFAULT_RATIOS,
      aspectRatio: DEFAULTS.aspectRatio,
      resolution: opts?.resolution ?? s.resolution,
      cfg: s.cfg,
      tau: s.tau,
      topK: DEFAULTS.topK,
      topP: DEFAULTS.topP,
      provider: s.provider,
      // the loaded profile, as Compare Policies uses it
      profilePath: ownProfiles ? undefined : state.profilePath,
      ablation: opts?.ablation,
      budgetRules: opts?.budgetRules,
      windowSize: s.windowSize,
      poolingKernel: s.poolingKernel,
      queryMode: s.queryMode,
    };
    const request: EvaluateRequest = { ...body, outDir: opts?.outDir ?? evaluationFolder(state.outputRoot(s), body) };
    const r = await state.jobs.run('Evaluating policies', 'evaluate', request);
    if (!r) return undefined;
    state.openVisualizer({ leaderboardPath: r.jsonPath });
    if (!opts) {
      const resumed = r.resumed ? ` (${r.resumed} resumed)` : '';
      const ranked = `ScaleKV: ranked ${r.leaderboard.rows.length} policy x ratio rows${resumed}.`;
      const pick = await vscode.window.showInformationMessage(ranked, 'Open Table');
      if (pick) await vscode.window.showTextDocument(vscode.Uri.file(r.tablePath));
    }
    return r.jsonPath;
  };
}

/** prompts file, policies and ratios; undefined when the user backs out */
async function ask(): Promise<Pick<EvaluateOptions, 'prompts' | 'policies' | 'ratios'> | undefined> {
  const title = 'ScaleKV: Evaluate (1/3): held-out prompts, one per line';
  const file = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Text: ['txt'] }, title }))?.[0]?.fsPath;
  if (!file) return undefined;
  const prompts = readPromptsFile(file);
  const picks = await vscode.window.showQuickPick(
    candidatePolicies().map((p) => ({ label: p, picked: true })),
    { ...STEP, canPickMany: true, title: 'ScaleKV: Evaluate (2/3): policies to rank against the full cache' },
  );
  if (!picks?.length) return undefined;
  const r = await vscode.window.showInputBox({
    ...STEP,
    title: 'ScaleKV: Evaluate (3/3): KV budgets',
    prompt: 'Fractions of the full KV cache, comma-separated',
    value: DEFAULT_RATIOS.join(', '),
    validateInput: (x) => (parseRatios(x) ? null : 'Enter numbers in (0, 1], e.g. 0.04, 0.1, 0.2.'),
  });
  if (r === undefined) return undefined;
  return { prompts, policies: picks.map((p) => p.label), ratios: parseRatios(r)! };
}

/** "0.04, 0.1 0.2" -> [0.04, 0.1, 0.2]; null unless every entry is within (0, 1] */
function parseRatios(text: string): number[] | null {
  const parts = text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  return parts.length && parts.every((r) => r > 0 && r <= 1) ? parts : null;
}
