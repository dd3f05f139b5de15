/**
 * Extension entry: the engine client (a separate process), the commands of category "ScaleKV", the
 * sidebar view, the visualizer panel (restored after reload) and the notebook controller.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { EngineClient } from '../engine/client';
import { candidatePolicies, evaluationFolder } from '../engine/evaluatePlan';
import { readProfileOrTable } from '../engine/policySpec';
import { readPromptsFile } from '../engine/prompts';
import { scaleSchedule } from '../model/schedule';
import { checkProfileMatches, formatOfficialTable, parseProfile, profileToOfficial } from '../scalekv/profile';
import { DEFAULTS } from '../shared/defaults';
import { writeFileAtomic } from '../shared/outputFiles';
import type { EngineResult } from '../shared/protocol';
import { baseRequest, calibrateRequest, generateRequest, policySpec as buildPolicySpec } from '../shared/requests';
import type { BudgetRuleName, CalibrateRequest, EvaluateRequest, GenerateRequest, ModelSummary, PolicyName, PolicySpec, ProfileModelRef, RunRecord, ScaleKVProfile } from '../shared/types';
import { POLICY_NAMES, PROFILE_POLICIES } from '../shared/types';
import { ScaleKVNotebookController } from '../notebook/controller';
import { SidebarView } from '../views/sidebarView';
import { registerVisualizerSerializer, VisualizerPanel } from '../views/visualizerPanel';
import { CudaProviderSetup } from './cudaCommand';
import { JobRunner } from './jobs';
import { outputRoot, readSettings, type Settings } from './settings';

let client: EngineClient | undefined;

/** arguments of scalekv.evaluate for scripts and tests */
interface EvaluateOptions {
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

/** "0.04, 0.1 0.2" -> [0.04, 0.1, 0.2]; null unless every entry is within (0, 1] */
function parseRatios(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter(Boolean).map(Number);
  return parts.length && parts.every((r) => r > 0 && r <= 1) ? parts : null;
}

export interface ScaleKVApi {
  /** for integration tests: where the last results went */
  lastRunPath(): string | undefined;
  lastProfilePath(): string | undefined;
  client(): EngineClient;
}

export function activate(ctx: vscode.ExtensionContext): ScaleKVApi {
  const log = vscode.window.createOutputChannel('ScaleKV', { log: true });
  const cuda = new CudaProviderSetup(ctx);
  client = new EngineClient({ workerPath: join(ctx.extensionPath, 'dist', 'worker.js'), env: () => cuda.engineEnv(), onLog: (l, m) => (l === 'error' ? log.error(m) : log.info(m)) });
  const sidebar = new SidebarView(ctx.extensionUri);
  sidebar.update({ cuda: cuda.state() });
  const jobs = new JobRunner(client, (b) => sidebar.update({ busy: b }));
  let lastRun: string | undefined = ctx.workspaceState.get('scalekv.lastRun');
  let profilePath: string | undefined = ctx.workspaceState.get('scalekv.profile');
  let model: ModelSummary | null = null;

  const loadProfile = (p: string): ScaleKVProfile => {
    const text = readFileSync(p, 'utf8');
    return parseProfile(text, p);
  };
  const setProfile = (p: string, prof: ScaleKVProfile) => {
    profilePath = p;
    void ctx.workspaceState.update('scalekv.profile', p);
    sidebar.update({ profile: { path: p, origin: prof.origin, targetRatio: prof.settings.targetRatio } });
  };
  const addRun = (runPath: string, run: RunRecord) => {
    lastRun = runPath;
    void ctx.workspaceState.update('scalekv.lastRun', runPath);
    const runs = [
      { id: run.id, path: runPath, policy: `${run.request.policy.name}${run.request.policy.ratio && run.request.policy.name !== 'full' ? ` ${run.request.policy.ratio * 100}%` : ''}`, createdAt: run.createdAt, kvHeldRatio: run.kv.finalHeldBytes / run.kv.finalFullBytes, psnr: run.fidelity?.images[0]?.psnr ?? null },
      ...sidebar.current.runs.filter((r) => r.path !== runPath),
    ].slice(0, 8);
    sidebar.update({ runs });
    void ctx.workspaceState.update('scalekv.runs', runs);
  };
  sidebar.update({ runs: ctx.workspaceState.get('scalekv.runs') ?? [] });
  if (profilePath && existsSync(profilePath)) {
    try {
      setProfile(profilePath, loadProfile(profilePath));
    } catch {
      profilePath = undefined;
    }
  }

  /** describes a model; only the configured one's result (or error) is shown as the current model */
  const describe = async (modelPath?: string): Promise<ModelSummary | null> => {
    const s = readSettings();
    const configured = !modelPath || modelPath === s.modelPath;
    try {
      const r = (await client!.request({ type: 'describeModel', modelPath: modelPath ?? s.modelPath, provider: s.provider })) as Extract<EngineResult, { kind: 'describeModel' }>;
      if (configured) {
        model = r.model;
        sidebar.update({ model: r.model, provider: r.provider, modelError: undefined });
      }
      return r.model;
    } catch (e) {
      if (configured) sidebar.update({ model: null, modelError: (e as Error).message });
      throw e;
    }
  };

  const openVisualizer = (state: { runPath?: string; profilePath?: string; leaderboardPath?: string }) => {
    const panel = VisualizerPanel.show(ctx.extensionUri, loadProfile, state);
    void ctx.workspaceState.update('scalekv.visualizer', panel.viewState);
  };

  const showRunResult = async (runPath: string, run: RunRecord) => {
    addRun(runPath, run);
    for (const n of run.notices ?? []) void vscode.window.showWarningMessage(`ScaleKV: ${n.message}`);
    const pct = ((100 * run.kv.finalHeldBytes) / run.kv.finalFullBytes).toFixed(1);
    const pick = await vscode.window.showInformationMessage(
      `ScaleKV: ${run.images.length} image(s) with ${run.request.policy.name} on ${run.provider.used}; KV held ${pct}% of the full cache, ${(run.totalMs / 1000).toFixed(1)} s.`,
      'Open Visualizer',
      'Reveal in Explorer',
    );
    if (pick === 'Open Visualizer') openVisualizer({ runPath, profilePath: run.profile ? undefined : profilePath });
    if (pick === 'Reveal in Explorer') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(runPath));
  };

  /** what every request takes from the settings */
  const settingsBase = (s: Settings) => ({ modelPath: s.modelPath, resolution: s.resolution, cfg: s.cfg, provider: s.provider, precision: s.precision });

  const policySpec = (name: PolicyName, ratio: number): PolicySpec => {
    const s = readSettings();
    return buildPolicySpec(name, { ratio, windowSize: s.windowSize, poolingKernel: s.poolingKernel, queryMode: s.queryMode, profilePath });
  };

  const askRatio = async (def: number, title = 'KV budget') => {
    const v = await vscode.window.showInputBox({
      title,
      prompt: 'Fraction of the full KV cache to keep (e.g. 0.1 for 10%)',
      value: String(def),
      validateInput: (x) => (Number(x) > 0 && Number(x) <= 1 ? null : 'Enter a number in (0, 1].'),
    });
    return v === undefined ? undefined : Number(v);
  };

  const cmd = (id: string, fn: (...a: never[]) => unknown) => ctx.subscriptions.push(vscode.commands.registerCommand(id, fn as (...a: unknown[]) => unknown));

  cmd('scalekv.generate', async (opts?: Partial<GenerateRequest>) => {
    const s = readSettings();
    let req: GenerateRequest;
    if (opts && opts.prompts) {
      const policy = policySpec(s.policy, s.ratio);
      req = { ...generateRequest({ ...settingsBase(s), prompts: opts.prompts, outDir: outputRoot(ctx, s), policy }), ...opts } as GenerateRequest;
    } else {
      const prompt = await vscode.window.showInputBox({ title: 'ScaleKV: Generate (1/4)', prompt: 'Prompt', placeHolder: 'a lighthouse on a cliff at dusk', validateInput: (x) => (x.trim() ? null : 'Enter a prompt.') });
      if (prompt === undefined) return;
      const seed = await vscode.window.showInputBox({
        title: 'ScaleKV: Generate (2/4)',
        prompt: 'Seed',
        value: String(DEFAULTS.seed), validateInput: (x) => (/^\d+$/.test(x.trim()) ? null : 'Enter a non-negative integer.') });
      if (seed === undefined) return;
      const res = await vscode.window.showQuickPick(
        [
          { label: '1M', description: '1024x1024, 13 scales' },
          { label: '0.60M', description: '768x768, 12 scales' },
          { label: '0.25M', description: '512x512, 10 scales' },
          { label: '0.06M', description: '256x256, 7 scales' },
        ].map((i) => ({ ...i, picked: i.label === s.resolution })),
        { title: 'ScaleKV: Generate (3/4)', placeHolder: `Resolution (1:1). Default ${s.resolution}` },
      );
      if (!res) return;
      const pol = await vscode.window.showQuickPick(
        POLICY_NAMES.map((p) => ({ label: p, description: p === 'scalekv' ? (profilePath ? `profile ${basename(profilePath)}` : 'the model’s shipped profile') : p === 'full' ? 'no compression (reference)' : 'baseline', picked: p === s.policy })),
        { title: 'ScaleKV: Generate (4/4)', placeHolder: 'KV-cache policy' },
      );
      if (!pol) return;
      const ratio = pol.label === 'full' ? 1 : await askRatio(s.ratio);
      if (ratio === undefined) return;
      const policy = policySpec(pol.label as PolicyName, ratio);
      const chosen = { prompts: [prompt.trim()], seed: Number(seed), resolution: res.label, policy };
      req = generateRequest({ ...settingsBase(s), ...chosen, outDir: outputRoot(ctx, s) });
    }
    const r = await jobs.run<Extract<EngineResult, { kind: 'generate' }>>('Generating', { type: 'generate', request: req });
    // e.g. a profile derived on the fly for an aspect ratio nobody calibrated
    for (const n of r?.run.notices ?? []) if (n.kind !== 'unknown-words') void vscode.window.showInformationMessage(`ScaleKV: ${n.message}`);
    if (r) {
      if (opts) addRun(r.runPath, r.run);
      else void showRunResult(r.runPath, r.run);
    }
    return r?.runPath;
  });

  cmd('scalekv.calibrate', async (opts?: Partial<CalibrateRequest>) => {
    const s = readSettings();
    let prompts: string[] = [];
    let ratio = s.ratio;
    if (!opts) {
      const current = model ?? (await describe().catch(() => null));
      const which = await vscode.window.showQuickPick(
        [
          { label: current ? current.name : 'the configured model', description: current ? `${current.depth} layers, ${current.numHeads} heads (current)` : 'not loaded yet', other: false },
          { label: 'Another model…', description: 'choose a folder or checkpoint first (ScaleKV: Select Model)', other: true },
        ],
        { title: 'ScaleKV: Calibrate (1/3)', placeHolder: 'Model to calibrate' },
      );
      if (!which) return;
      if (which.other && !(await vscode.commands.executeCommand<boolean>('scalekv.selectModel'))) return;
      const src = await vscode.window.showQuickPick(
        [
          { label: 'Built-in prompts', description: '10 varied prompts, as the paper calibrates' },
          { label: 'Prompts file…', description: s.promptsFile || 'one prompt per line' },
        ],
        { title: 'ScaleKV: Calibrate (2/3)', placeHolder: 'Calibration prompts' },
      );
      if (!src) return;
      if (src.label.startsWith('Prompts file')) {
        const file = s.promptsFile || (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Text: ['txt'] } }))?.[0]?.fsPath;
        if (!file) return;
        prompts = readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
        if (!prompts.length) return void vscode.window.showErrorMessage(`ScaleKV: ${file} has no prompts.`);
      } else if (s.promptsFile && existsSync(s.promptsFile)) {
        prompts = [];
      }
      const r = await askRatio(s.ratio, 'ScaleKV: Calibrate (3/3): target KV budget');
      if (r === undefined) return;
      ratio = r;
    }
    const dir = join(outputRoot(ctx, s), 'profiles');
    mkdirSync(dir, { recursive: true });
    const resolution = opts?.resolution ?? s.resolution;
    const pct = Math.round((opts?.targetRatio ?? ratio) * 100);
    // read again: the first step may have selected another model
    const outPath = join(dir, `profile-${resolution}-${pct}pct.json`);
    const tuning = { windowSize: s.windowSize, poolingKernel: s.poolingKernel, asiTopK: s.asiTopK, asiMode: s.asiMode, budgetRule: s.budgetRule };
    const chosen = { modelPath: readSettings().modelPath, prompts, ratio, resolution, cfg: s.cfg, provider: s.provider, outPath, ...tuning };
    const req: CalibrateRequest = { ...calibrateRequest(chosen), ...opts };
    const r = await jobs.run<Extract<EngineResult, { kind: 'calibrate' }>>('Calibrating', { type: 'calibrate', request: req });
    if (!r) return;
    setProfile(r.profilePath, r.profile);
    if (!opts) {
      const pick = await vscode.window.showInformationMessage(`ScaleKV: calibrated ${r.profile.model.name} on ${r.profile.calibration?.prompts.length} prompts.`, 'Open Visualizer');
      if (pick) openVisualizer({ profilePath: r.profilePath });
    }
    return r.profilePath;
  });

  cmd('scalekv.openVisualizer', () => openVisualizer({ runPath: lastRun, profilePath }));
  cmd('scalekv.openRun', (runPath: string) => openVisualizer({ runPath }));

  cmd('scalekv.selectModel', async (path?: string) => {
    let chosen = path;
    if (chosen === undefined) {
      const pick = await vscode.window.showQuickPick(
        [
          { label: 'Embedded tiny model', description: 'made by the extension; runs anywhere in seconds' },
          { label: 'Folder…', description: 'infinity_*.pth, infinity_vae_*.pth and flan-t5-xl/' },
          { label: 'Transformer file…', description: '.pth or .safetensors (VAE and text encoder beside it)' },
        ],
        { title: 'ScaleKV: Select Model' },
      );
      if (!pick) return;
      if (pick.label.startsWith('Embedded')) chosen = '';
      else {
        const folder = pick.label.startsWith('Folder');
        const uri = await vscode.window.showOpenDialog({ canSelectFiles: !folder, canSelectFolders: folder, filters: folder ? undefined : { Checkpoints: ['pth', 'pt', 'bin', 'safetensors', 'json'] } });
        if (!uri?.[0]) return;
        chosen = uri[0].fsPath;
      }
    }
    // check before saving: a folder with missing files changes nothing
    try {
      const m = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'ScaleKV: checking the model…' }, () => describe(chosen || undefined));
      await vscode.workspace.getConfiguration('scalekv').update('modelPath', chosen, vscode.ConfigurationTarget.Global);
      model = m;
      void describe();
      void vscode.window.showInformationMessage(`ScaleKV: using ${m?.name} (${m?.depth} layers, ${m?.numHeads} heads).`);
      return true;
    } catch (e) {
      void vscode.window.showErrorMessage(`ScaleKV: cannot use that model: ${(e as Error).message}`);
      return false;
    }
  });

  const modelRef = async (): Promise<ProfileModelRef> => {
    const m = model ?? (await describe());
    if (!m) throw new Error('No model loaded.');
    return { name: m.name, depth: m.depth, numHeads: m.numHeads, headDim: m.headDim, schedule: scaleSchedule(1, readSettings().resolution) };
  };

  cmd('scalekv.importBudget', async (file?: string) => {
    const f = file ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { JSON: ['json'] }, title: 'Official ScaleKV budget table or ScaleKV profile' }))?.[0]?.fsPath;
    if (!f) return;
    try {
      const ref = await modelRef();
      const prof = readProfileOrTable(f, ref);
      checkProfileMatches(prof, ref, basename(f));
      const dir = join(outputRoot(ctx, readSettings()), 'profiles');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, `imported-${basename(f).replace(/\.json$/, '')}.json`);
      writeFileAtomic(out, JSON.stringify(prof, null, 2));
      setProfile(out, prof);
      void vscode.window.showInformationMessage(`ScaleKV: imported ${basename(f)} for ${prof.model.name}.`);
      return out;
    } catch (e) {
      void vscode.window.showErrorMessage(`ScaleKV: ${(e as Error).message}`);
      return undefined;
    }
  });

  /** with arguments (scripts, tests) it asks nothing: { kind: 'profile' | 'official', target: path } */
  cmd('scalekv.exportProfile', async (opts?: { kind: 'profile' | 'official'; target: string }) => {
    if (!profilePath) return void vscode.window.showWarningMessage('ScaleKV: no profile loaded. Calibrate or import one first.');
    let official = opts?.kind === 'official';
    let target = opts?.target ? vscode.Uri.file(opts.target) : undefined;
    if (!opts) {
      const kind = await vscode.window.showQuickPick(['ScaleKV profile (full)', 'Official budget table'], { title: 'ScaleKV: Export Profile' });
      if (!kind) return;
      official = kind.startsWith('Official');
      target = await vscode.window.showSaveDialog({ filters: { JSON: ['json'] }, defaultUri: vscode.Uri.file(profilePath.replace(/\.json$/, official ? '-official.json' : '-export.json')) });
    }
    if (!target) return;
    try {
      const prof = loadProfile(profilePath);
      await vscode.workspace.fs.writeFile(target, Buffer.from(official ? formatOfficialTable(profileToOfficial(prof)) : JSON.stringify(prof, null, 2)));
    } catch (e) {
      return void vscode.window.showErrorMessage(`ScaleKV: cannot export ${basename(profilePath)}: ${(e as Error).message}`);
    }
    if (!opts) void vscode.window.showInformationMessage(`ScaleKV: saved ${target.fsPath}`);
    return target.fsPath;
  });

  /** with arguments it asks nothing: { prompt, policies, ratio?, resolution? } */
  cmd('scalekv.comparePolicies', async (opts?: { prompt: string; policies: PolicyName[]; ratio?: number; resolution?: string }) => {
    const s = readSettings();
    let prompt = opts?.prompt;
    let policies = opts?.policies;
    let ratio = opts?.ratio ?? s.ratio;
    if (!opts) {
      prompt = await vscode.window.showInputBox({ title: 'ScaleKV: Compare Policies', prompt: 'Prompt', value: 'a lighthouse on a cliff at dusk', validateInput: (x) => (x.trim() ? null : 'Enter a prompt.') });
      if (!prompt) return;
      const picks = await vscode.window.showQuickPick(
        POLICY_NAMES.filter((p) => p !== 'full').map((p) => ({ label: p, picked: p === 'scalekv' || p === 'snapkv' })),
        { canPickMany: true, title: 'Policies to compare against the full cache' },
      );
      if (!picks?.length) return;
      policies = picks.map((p) => p.label as PolicyName);
      const r = await askRatio(s.ratio);
      if (r === undefined) return;
      ratio = r;
    }
    if (!prompt || !policies?.length) return;
    const outDir = join(outputRoot(ctx, s), `compare-${Date.now()}`);
    const r = await jobs.run<Extract<EngineResult, { kind: 'compare' }>>('Comparing policies', {
      type: 'compare',
      request: {
        base: baseRequest({ ...settingsBase(s), prompts: [prompt], resolution: opts?.resolution ?? s.resolution }),
        policies: policies.map((p) => policySpec(p, ratio)),
        outDir,
      },
    });
    if (!r) return;
    for (const c of r.result.candidates) addRun(join(outDir, c.id, 'run.json'), c);
    await vscode.window.showTextDocument(vscode.Uri.file(r.result.tablePath));
    return r.result.tablePath;
  });

  /**
   * Every chosen policy at every ratio against the full cache over a prompt set; with arguments it asks
   * nothing: { prompts | promptsFile, policies?, ratios?, seeds?, resolution?, ablation?, budgetRules?, outDir? }.
   * The folder is named after the request, so running the same evaluation again resumes it.
   */
  cmd('scalekv.evaluate', async (opts?: EvaluateOptions) => {
    const s = readSettings();
    let prompts = opts?.prompts;
    let policies = opts?.policies;
    let ratios = opts?.ratios;
    try {
      if (opts?.promptsFile) prompts = readPromptsFile(opts.promptsFile);
      if (!opts) {
        const title = 'ScaleKV: Evaluate (1/3): held-out prompts, one per line';
        const file = (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Text: ['txt'] }, title }))?.[0]?.fsPath;
        if (!file) return;
        prompts = readPromptsFile(file);
        const picks = await vscode.window.showQuickPick(
          candidatePolicies().map((p) => ({ label: p, picked: true })),
          { canPickMany: true, title: 'ScaleKV: Evaluate (2/3): policies to rank against the full cache' },
        );
        if (!picks?.length) return;
        policies = picks.map((p) => p.label as PolicyName);
        const r = await vscode.window.showInputBox({
          title: 'ScaleKV: Evaluate (3/3): KV budgets',
          prompt: 'Fractions of the full KV cache, comma-separated',
          value: '0.04, 0.1, 0.2',
          validateInput: (x) => (parseRatios(x) ? null : 'Enter numbers in (0, 1], e.g. 0.04, 0.1, 0.2.'),
        });
        if (r === undefined) return;
        ratios = parseRatios(r)!;
      }
    } catch (e) {
      return void vscode.window.showErrorMessage(`ScaleKV: ${(e as Error).message}`);
    }
    if (!prompts?.length) return void vscode.window.showErrorMessage('ScaleKV: Evaluate needs prompts (a prompts file, one per line).');
    const body: Omit<EvaluateRequest, 'outDir'> = {
      modelPath: s.modelPath,
      prompts,
      seeds: opts?.seeds ?? [0],
      policies: policies ?? candidatePolicies(),
      ratios: ratios ?? [0.04, 0.1, 0.2],
      aspectRatio: 1,
      resolution: opts?.resolution ?? s.resolution,
      cfg: s.cfg,
      tau: 1,
      topK: 900,
      topP: 0.97,
      provider: s.provider,
      // the loaded profile, as Compare Policies uses it; the ablation and the rule comparison calibrate their own
      profilePath: opts?.ablation || opts?.budgetRules?.length ? undefined : profilePath,
      ablation: opts?.ablation,
      budgetRules: opts?.budgetRules,
      windowSize: s.windowSize,
      poolingKernel: s.poolingKernel,
      queryMode: s.queryMode,
    };
    const request: EvaluateRequest = { ...body, outDir: opts?.outDir ?? evaluationFolder(outputRoot(ctx, s), body) };
    const r = await jobs.run<Extract<EngineResult, { kind: 'evaluate' }>>('Evaluating policies', { type: 'evaluate', request });
    if (!r) return;
    openVisualizer({ leaderboardPath: r.result.jsonPath });
    if (!opts) {
      const resumed = r.result.resumed ? ` (${r.result.resumed} resumed)` : '';
      const rows = r.result.leaderboard.rows.length;
      const pick = await vscode.window.showInformationMessage(`ScaleKV: ranked ${rows} policy x ratio rows${resumed}.`, 'Open Table');
      if (pick) await vscode.window.showTextDocument(vscode.Uri.file(r.result.tablePath));
    }
    return r.result.jsonPath;
  });

  cmd('scalekv.installCudaProvider', async () => {
    const dir = await cuda.install();
    sidebar.update({ cuda: cuda.state() });
    // an idle engine restarts now, so the sidebar shows the provider it then runs on
    if (dir && client!.restartWhenIdle()) void describe().catch(() => undefined);
    return dir;
  });

  cmd('scalekv.cancel', () => {
    if (!jobs.cancel()) void vscode.window.showInformationMessage('ScaleKV: nothing is running.');
  });

  ctx.subscriptions.push(vscode.window.registerWebviewViewProvider(SidebarView.id, sidebar));
  registerVisualizerSerializer(ctx, loadProfile);
  ctx.subscriptions.push(new ScaleKVNotebookController(client, () => ({ ...readSettings(), outDir: outputRoot(ctx, readSettings()), profilePath })));
  ctx.subscriptions.push({ dispose: () => client?.dispose() }, log);
  ctx.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('scalekv.modelPath') || e.affectsConfiguration('scalekv.executionProvider')) void describe().catch(() => undefined);
    }),
  );
  void describe().catch(() => undefined);

  return { lastRunPath: () => lastRun, lastProfilePath: () => profilePath, client: () => client! };
}

export function deactivate(): void {
  client?.dispose();
}
