/**
 * What the extension knows between commands: the engine client and the job runner, the described
 * model, the loaded profile, the recent runs (kept in the workspace state and shown in the sidebar),
 * the CUDA provider's setup, and the visualizer. The commands (./commands) read and change it only through this class.
 */
import { readFileSync } from 'node:fs';
import type * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import { scaleSchedule } from '../model/schedule';
import { parseProfile } from '../scalekv/profile';
import type { SidebarRunSummary } from '../shared/protocol';
import { baseRequest, policySpec, type BaseChoice } from '../shared/requests';
import type { ModelSummary, PolicyName, PolicySpec, ProfileModelRef, RunRecord, ScaleKVProfile } from '../shared/types';
import type { SidebarView } from '../views/sidebarView';
import { VisualizerPanel } from '../views/visualizerPanel';
import type { CudaProviderSetup } from './cudaCommand';
import { JobRunner } from './jobs';
import { outputRoot, readSettings, type Settings } from './settings';

/** workspaceState keys */
const KEYS = { lastRun: 'scalekv.lastRun', profile: 'scalekv.profile', runs: 'scalekv.runs', visualizer: 'scalekv.visualizer' } as const;

/** how many recent runs the sidebar lists */
const RECENT_RUNS = 8;

export class ExtensionState {
  readonly jobs: JobRunner;
  private lastRunPath: string | undefined;
  private profile: string | undefined;
  private described: ModelSummary | null = null;

  constructor(
    readonly ctx: vscode.ExtensionContext,
    readonly client: EngineClient,
    readonly sidebar: SidebarView,
    readonly cuda: CudaProviderSetup,
  ) {
    this.jobs = new JobRunner(client, (busy) => sidebar.update({ busy }));
    sidebar.update({ cuda: cuda.state() });
    this.lastRunPath = ctx.workspaceState.get(KEYS.lastRun);
    sidebar.update({ runs: ctx.workspaceState.get<SidebarRunSummary[]>(KEYS.runs) ?? [] });
    const saved = ctx.workspaceState.get<string>(KEYS.profile);
    if (saved) {
      try {
        this.setProfile(saved, this.loadProfile(saved));
      } catch {
        // a moved or broken profile is forgotten; the sidebar offers Calibrate and Import Budget
      }
    }
  }

  get lastRun(): string | undefined {
    return this.lastRunPath;
  }

  /** the loaded profile's path, if any */
  get profilePath(): string | undefined {
    return this.profile;
  }

  /** the configured model, once described */
  get model(): ModelSummary | null {
    return this.described;
  }

  settings(): Settings {
    return readSettings();
  }

  /** what every request takes from the settings, with the caller's prompts and choices */
  requestBase(s: Settings, c: BaseChoice): BaseChoice {
    return { modelPath: s.modelPath, resolution: s.resolution, cfg: s.cfg, tau: s.tau, provider: s.provider, precision: s.precision, ...c };
  }

  /** a base request (no policy, no output) under the settings */
  baseRequest(s: Settings, c: BaseChoice) {
    return baseRequest(this.requestBase(s, c));
  }

  /** where runs and profiles go under the current settings */
  outputRoot(s: Settings = readSettings()): string {
    return outputRoot(this.ctx, s);
  }

  loadProfile = (path: string): ScaleKVProfile => parseProfile(readFileSync(path, 'utf8'), path);

  setProfile(path: string, prof: ScaleKVProfile): void {
    this.profile = path;
    void this.ctx.workspaceState.update(KEYS.profile, path);
    this.sidebar.update({ profile: { path, origin: prof.origin, targetRatio: prof.settings.targetRatio } });
  }

  addRun(runPath: string, run: RunRecord): void {
    this.lastRunPath = runPath;
    void this.ctx.workspaceState.update(KEYS.lastRun, runPath);
    const runs = [runSummary(runPath, run), ...this.sidebar.current.runs.filter((r) => r.path !== runPath)].slice(0, RECENT_RUNS);
    // a GPU provider that failed mid-run is passed over from now on: the sidebar says where runs go
    const fellBack = run.notices?.some((n) => n.kind === 'provider-fallback');
    this.sidebar.update(fellBack ? { runs, provider: run.provider } : { runs });
    void this.ctx.workspaceState.update(KEYS.runs, runs);
  }

  /** describes a model; only the configured one's result (or error) becomes the current model */
  async describe(modelPath?: string): Promise<ModelSummary> {
    const s = readSettings();
    const configured = !modelPath || modelPath === s.modelPath;
    try {
      const r = await this.client.request('describeModel', { modelPath: modelPath ?? s.modelPath, provider: s.provider });
      if (configured) {
        this.described = r.model;
        this.sidebar.update({ model: r.model, provider: r.provider, modelError: undefined });
      }
      return r.model;
    } catch (e) {
      if (configured) this.sidebar.update({ model: null, modelError: (e as Error).message });
      throw e;
    }
  }

  /** the model a chosen model path describes becomes current before the setting's change is seen */
  useModel(m: ModelSummary): void {
    this.described = m;
  }

  /** what a profile must match: the current model at the configured resolution */
  async modelRef(): Promise<ProfileModelRef> {
    const m = this.described ?? (await this.describe());
    return {
      name: m.name,
      depth: m.depth,
      numHeads: m.numHeads,
      headDim: m.headDim,
      schedule: scaleSchedule(1, readSettings().resolution),
    };
  }

  /** a policy under the current settings; the policies that read a profile (PROFILE_POLICIES) use the loaded one */
  policySpec(name: PolicyName, ratio: number): PolicySpec {
    const s = readSettings();
    return policySpec(name, {
      ratio,
      windowSize: s.windowSize,
      poolingKernel: s.poolingKernel,
      queryMode: s.queryMode,
      profilePath: this.profile,
    });
  }

  openVisualizer(state: { runPath?: string; profilePath?: string; leaderboardPath?: string }): void {
    const panel = VisualizerPanel.show(this.ctx.extensionUri, this.loadProfile, state);
    void this.ctx.workspaceState.update(KEYS.visualizer, panel.viewState);
  }
}

function runSummary(path: string, run: RunRecord): SidebarRunSummary {
  const { name, ratio } = run.request.policy;
  return {
    id: run.id,
    path,
    policy: `${name}${ratio && name !== 'full' ? ` ${ratio * 100}%` : ''}`,
    createdAt: run.createdAt,
    kvHeldRatio: run.kv.finalHeldBytes / run.kv.finalFullBytes,
    psnr: run.fidelity?.images[0]?.psnr ?? null,
  };
}
