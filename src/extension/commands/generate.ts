/**
 * ScaleKV: Generate Image. Asks prompt, seed, resolution and policy (or takes them as an argument,
 * then asks nothing and returns the run record's path), runs the engine and offers the visualizer.
 */
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { GenerateRequest, PolicyName, RunRecord } from '../../shared/types';
import { DEFAULTS } from '../../shared/defaults';
import { generateRequest } from '../../shared/requests';
import { POLICY_NAMES } from '../../shared/types';
import type { ExtensionState } from '../state';
import { askRatio, STEP } from './ask';

export function generateCommand(state: ExtensionState) {
  return async (opts?: Partial<GenerateRequest>): Promise<string | undefined> => {
    const req = opts?.prompts ? fromArguments(state, opts) : await ask(state);
    if (!req) return undefined;
    const r = await state.jobs.run('Generating', 'generate', req);
    if (!r) return undefined;
    // e.g. a profile derived on the fly for an aspect ratio nobody calibrated
    for (const n of r.run.notices ?? []) if (n.kind !== 'unknown-words') void vscode.window.showInformationMessage(`ScaleKV: ${n.message}`);
    if (opts) state.addRun(r.runPath, r.run);
    else void showResult(state, r.runPath, r.run);
    return r.runPath;
  };
}

function fromArguments(state: ExtensionState, opts: Partial<GenerateRequest>): GenerateRequest {
  const s = state.settings();
  const policy = state.policySpec(s.policy, s.ratio);
  return { ...generateRequest({ ...state.requestBase(s, { prompts: [] }), outDir: state.outputRoot(s), policy }), ...opts };
}

const RESOLUTIONS = [
  { label: '1M', description: '1024x1024, 13 scales' },
  { label: '0.60M', description: '768x768, 12 scales' },
  { label: '0.25M', description: '512x512, 10 scales' },
  { label: '0.06M', description: '256x256, 7 scales' },
];

async function ask(state: ExtensionState): Promise<GenerateRequest | undefined> {
  const s = state.settings();
  const prompt = await vscode.window.showInputBox({
    ...STEP,
    title: 'ScaleKV: Generate (1/4)',
    prompt: 'Prompt',
    placeHolder: 'a large red circle at the top left on a blue background',
    validateInput: (x) => (x.trim() ? null : 'Enter a prompt.'),
  });
  if (prompt === undefined) return undefined;
  const seed = await vscode.window.showInputBox({
    ...STEP,
    title: 'ScaleKV: Generate (2/4)',
    prompt: 'Seed',
    value: String(DEFAULTS.seed),
    validateInput: (x) => (/^\d+$/.test(x.trim()) ? null : 'Enter a non-negative integer.'),
  });
  if (seed === undefined) return undefined;
  const res = await vscode.window.showQuickPick(
    RESOLUTIONS.map((i) => ({ ...i, picked: i.label === s.resolution })),
    { ...STEP, title: 'ScaleKV: Generate (3/4)', placeHolder: `Resolution (1:1). Default ${s.resolution}` },
  );
  if (!res) return undefined;
  const profile = state.profilePath;
  const describePolicy = (p: PolicyName) =>
    p === 'scalekv'
      ? profile
        ? `profile ${basename(profile)}`
        : 'the model’s shipped profile'
      : p === 'full'
        ? 'no compression (reference)'
        : 'baseline';
  const pol = await vscode.window.showQuickPick(
    POLICY_NAMES.map((p) => ({ label: p, description: describePolicy(p), picked: p === s.policy })),
    { ...STEP, title: 'ScaleKV: Generate (4/4)', placeHolder: 'KV-cache policy' },
  );
  if (!pol) return undefined;
  const ratio = pol.label === 'full' ? 1 : await askRatio(s.ratio);
  if (ratio === undefined) return undefined;
  const chosen = { prompts: [prompt.trim()], seed: Number(seed), resolution: res.label };
  return generateRequest({ ...state.requestBase(s, chosen), policy: state.policySpec(pol.label, ratio), outDir: state.outputRoot(s) });
}

async function showResult(state: ExtensionState, runPath: string, run: RunRecord): Promise<void> {
  state.addRun(runPath, run);
  for (const n of run.notices ?? []) void vscode.window.showWarningMessage(`ScaleKV: ${n.message}`);
  const pct = ((100 * run.kv.finalHeldBytes) / run.kv.finalFullBytes).toFixed(1);
  const pick = await vscode.window.showInformationMessage(
    `ScaleKV: ${run.images.length} image(s) with ${run.request.policy.name} on ${run.provider.used}; KV held ${pct}% of the full cache, ${(run.totalMs / 1000).toFixed(1)} s.`,
    'Open Visualizer',
    'Reveal in Explorer',
  );
  if (pick === 'Open Visualizer') state.openVisualizer({ runPath, profilePath: run.profile ? undefined : state.profilePath });
  if (pick === 'Reveal in Explorer') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(runPath));
}
