/**
 * ScaleKV: Compare Policies: the full cache against each chosen policy on one prompt, with the table
 * (compare.md) opened at the end. With arguments it asks nothing: { prompt, policies, ratio?, resolution? };
 * returns the table's path.
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { PolicyName } from '../../shared/types';
import { POLICY_NAMES } from '../../shared/types';
import type { ExtensionState } from '../state';
import { askRatio, STEP } from './ask';

export interface ComparePoliciesArgs {
  prompt: string;
  policies: PolicyName[];
  ratio?: number;
  resolution?: string;
}

export function comparePoliciesCommand(state: ExtensionState) {
  return async (opts?: ComparePoliciesArgs): Promise<string | undefined> => {
    const s = state.settings();
    const args = opts ?? (await ask(s.ratio));
    if (!args?.prompt || !args.policies.length) return undefined;
    const ratio = args.ratio ?? s.ratio;
    const outDir = join(state.outputRoot(s), `compare-${Date.now()}`);
    const base = state.baseRequest(s, { prompts: [args.prompt], resolution: args.resolution ?? s.resolution });
    const r = await state.jobs.run('Comparing policies', 'compare', {
      base,
      policies: args.policies.map((p) => state.policySpec(p, ratio)),
      outDir,
    });
    if (!r) return undefined;
    for (const c of r.candidates) state.addRun(join(outDir, c.id, 'run.json'), c);
    await vscode.window.showTextDocument(vscode.Uri.file(r.tablePath));
    return r.tablePath;
  };
}

async function ask(defaultRatio: number): Promise<ComparePoliciesArgs | undefined> {
  const prompt = await vscode.window.showInputBox({
    ...STEP,
    title: 'ScaleKV: Compare Policies',
    prompt: 'Prompt',
    value: 'a large red circle at the top left on a blue background',
    validateInput: (x) => (x.trim() ? null : 'Enter a prompt.'),
  });
  if (!prompt) return undefined;
  const picks = await vscode.window.showQuickPick(
    POLICY_NAMES.filter((p) => p !== 'full').map((p) => ({ label: p, picked: p === 'scalekv' || p === 'snapkv' })),
    { ...STEP, canPickMany: true, title: 'Policies to compare against the full cache' },
  );
  if (!picks?.length) return undefined;
  const ratio = await askRatio(defaultRatio);
  return ratio === undefined ? undefined : { prompt, policies: picks.map((p) => p.label), ratio };
}
