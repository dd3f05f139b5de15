/**
 * ScaleKV: Generate Image. Asks prompt, seed, resolution and policy (or takes them as an argument,
 * then asks nothing and returns the run record's path), runs the engine and offers the visualizer.
 */
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { GenerateRequest, PolicyName, RunRecord } from '../../shared/types';
import { POLICY_NAMES } from '../../shared/types';
import type { ExtensionState } from '../state';
import { askRatio } from './ask';

export function generateCommand(state: ExtensionState) {
  return async (opts?: Partial<GenerateRequest>): Promise<string | undefined> => {
    const req = opts?.prompts ? fromArguments(state, opts) : await ask(state);
    if (!req) return undefined;
    const r = await state.jobs.run('Generating', 'generate', req);
    if (!r) return undefined;
    if (opts) state.addRun(r.runPath, r.run);
    else void showResult(state, r.runPath, r.run);
    return r.runPath;
  };
}

function fromArguments(state: ExtensionState, opts: Partial<GenerateRequest>): GenerateRequest {
  const s = state.settings();
  const defaults = { modelPath: s.modelPath, seed: 0, aspectRatio: 1, resolution: s.resolution, cfg: s.cfg, tau: 1, topK: 900, topP: 0.97, provider: s.provider };
  return { ...defaults, outDir: state.outputRoot(s), recordRetention: true, policy: state.policySpec(s.policy, s.ratio), prompts: [], ...opts };
}

const RESOLUTIONS = [
  { label: '1M', description: '1024x1024, 13 scales' },
  { label: '0.60M', description: '768x768, 12 scales' },
  { label: '0.25M', description: '512x512, 10 scales' },
  { label: '0.06M', description: '256x256, 7 scales' },
];

async function ask(state: ExtensionState): Promise<GenerateRequest | undefined> {
  const s = state.settings();
  const prompt = await vscode.window.showInputBox({ title: 'ScaleKV: Generate (1/4)', prompt: 'Prompt', placeHolder: 'a lighthouse on a cliff at dusk', validateInput: (x) => (x.trim() ? null : 'Enter a prompt.') });
  if (prompt === undefined) return undefined;
  const seed = await vscode.window.showInputBox({ title: 'ScaleKV: Generate (2/4)', prompt: 'Seed', value: '0', validateInput: (x) => (/^\d+$/.test(x.trim()) ? null : 'Enter a non-negative integer.') });
  if (seed === undefined) return undefined;
  const res = await vscode.window.showQuickPick(
    RESOLUTIONS.map((i) => ({ ...i, picked: i.label === s.resolution })),
    { title: 'ScaleKV: Generate (3/4)', placeHolder: `Resolution (1:1). Default ${s.resolution}` },
  );
  if (!res) return undefined;
  const profile = state.profilePath;
  const describePolicy = (p: PolicyName) => (p === 'scalekv' ? (profile ? `profile ${basename(profile)}` : 'the model’s shipped profile') : p === 'full' ? 'no compression (reference)' : 'baseline');
  const pol = await vscode.window.showQuickPick(
    POLICY_NAMES.map((p) => ({ label: p, description: describePolicy(p), picked: p === s.policy })),
    { title: 'ScaleKV: Generate (4/4)', placeHolder: 'KV-cache policy' },
  );
  if (!pol) return undefined;
  const ratio = pol.label === 'full' ? 1 : await askRatio(s.ratio);
  if (ratio === undefined) return undefined;
  return {
    modelPath: s.modelPath,
    prompts: [prompt.trim()],
    seed: Number(seed),
    aspectRatio: 1,
    resolution: res.label,
    cfg: s.cfg,
    tau: 1,
    topK: 900,
    topP: 0.97,
    policy: state.policySpec(pol.label, ratio),
    provider: s.provider,
    outDir: state.outputRoot(s),
    recordRetention: true,
  };
}

async function showResult(state: ExtensionState, runPath: string, run: RunRecord): Promise<void> {
  state.addRun(runPath, run);
  const pct = ((100 * run.kv.finalHeldBytes) / run.kv.finalFullBytes).toFixed(1);
  const pick = await vscode.window.showInformationMessage(
    `ScaleKV: ${run.images.length} image(s) with ${run.request.policy.name} on ${run.provider.used}; KV held ${pct}% of the full cache, ${(run.totalMs / 1000).toFixed(1)} s.`,
    'Open Visualizer',
    'Reveal in Explorer',
  );
  if (pick === 'Open Visualizer') state.openVisualizer({ runPath, profilePath: run.profile ? undefined : state.profilePath });
  if (pick === 'Reveal in Explorer') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(runPath));
}
