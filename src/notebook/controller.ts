/**
 * The "ScaleKV" notebook controller: executes cells holding a run specification (see cellSpec.ts)
 * through the same engine process as the commands, streams progress into the cell output, supports
 * interrupt, and emits application/vnd.scalekv.profile+json / application/vnd.scalekv.run+json plus
 * the images as image/png, and application/vnd.scalekv.leaderboard+json plus its Markdown table for an
 * evaluation (which resumes when the same cell runs again after an interrupt).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import { candidatePolicies, evaluationFolder } from '../engine/evaluatePlan';
import { readPromptsFile } from '../engine/prompts';
import { baseRequest, calibrateRequest, generateRequest, policySpec } from '../shared/requests';
import {
  LEADERBOARD_MIME,
  PROFILE_MIME,
  RUN_MIME,
  type EvaluateRequest,
  type PolicyName,
  type ProviderSetting,
  type RunRecord,
  type ScaleShape,
  type Settings,
} from '../shared/types';
import { sameSchedule, scaleSchedule } from '../model/schedule';
import { parseCellSpec } from './cellSpec';
import { runPayload } from './payload';

export class ScaleKVNotebookController implements vscode.Disposable {
  private readonly controllers: vscode.NotebookController[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  /** the profile each notebook's last calibrate cell wrote, by notebook URI */
  private readonly calibrated = new Map<string, string>();
  private order = 0;

  constructor(
    private readonly client: EngineClient,
    private readonly settings: () => Settings & { outDir: string; profilePath?: string },
  ) {
    for (const type of ['jupyter-notebook']) {
      const c = vscode.notebooks.createNotebookController(`scalekv-${type}`, type, 'ScaleKV');
      c.description = 'Runs ScaleKV run specifications (JSON cells)';
      // JSON run specifications only: a Python notebook is not offered this controller for its cells
      c.supportedLanguages = ['json', 'jsonc', 'plaintext'];
      c.supportsExecutionOrder = true;
      c.executeHandler = (cells) => this.executeAll(cells, c);
      this.controllers.push(c);
      // notebooks saved with the "scalekv" kernelspec (the example notebook) get this controller preselected
      const prefer = (nb: vscode.NotebookDocument) => {
        if (nb.notebookType === type && isScaleKVNotebook(nb)) c.updateNotebookAffinity(nb, vscode.NotebookControllerAffinity.Preferred);
      };
      vscode.workspace.notebookDocuments.forEach(prefer);
      this.disposables.push(vscode.workspace.onDidOpenNotebookDocument(prefer));
    }
  }

  private async executeAll(cells: vscode.NotebookCell[], c: vscode.NotebookController): Promise<void> {
    for (const cell of cells) await this.execute(cell, c);
  }

  private async execute(cell: vscode.NotebookCell, c: vscode.NotebookController): Promise<void> {
    const ex = c.createNotebookCellExecution(cell);
    ex.executionOrder = ++this.order;
    ex.start(Date.now());
    await ex.clearOutput();
    const s = this.settings();
    const progress = (text: string) => void ex.replaceOutput([new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.stdout(text)])]);
    try {
      const spec = parseCellSpec(cell.document.getText(), {
        resolution: s.resolution,
        ratio: s.ratio,
        cfg: s.cfg,
        tau: s.tau,
        policy: s.policy,
      });
      const base = baseRequest({
        modelPath: spec.model ?? s.modelPath,
        prompts: spec.prompts,
        seed: spec.seed,
        aspectRatio: spec.aspectRatio,
        resolution: spec.resolution,
        cfg: spec.cfg,
        tau: spec.tau,
        provider: (spec.provider ?? s.provider) as ProviderSetting,
        precision: s.precision,
      });
      const schedule = scaleSchedule(spec.aspectRatio, spec.resolution);
      // a cell's own "profile" first, then the one this notebook calibrated for the same schedule, then
      // the extension's loaded profile if it fits; otherwise the engine picks the model's shipped one
      const profile =
        spec.profile ?? [this.calibrated.get(cell.notebook.uri.toString()), s.profilePath].find((p) => p && profileFits(p, schedule));
      const tuning = { windowSize: s.windowSize, poolingKernel: s.poolingKernel, queryMode: s.queryMode };
      const policy = (name: PolicyName) => policySpec(name, { ratio: spec.ratio, ...tuning, profilePath: profile });
      const opts = {
        token: ex.token,
        onProgress: (p: { message: string; fraction: number }) => progress(`[${Math.round(p.fraction * 100)}%] ${p.message}`),
      };
      const outputs: vscode.NotebookCellOutput[] = [];
      if (spec.action === 'generate') {
        const request = generateRequest({ ...base, policy: policy(spec.policy), outDir: s.outDir });
        const r = await this.client.request('generate', request, opts);
        outputs.push(...this.runOutputs(r.runPath, r.run));
        for (const n of r.run.notices ?? [])
          outputs.push(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.text(`Note: ${n.message}`)]));
      } else if (spec.action === 'calibrate') {
        const out = join(s.outDir, 'profiles', `notebook-profile-${spec.resolution}-${Math.round(spec.ratio * 100)}pct.json`);
        mkdirSync(dirname(out), { recursive: true });
        const { windowSize, poolingKernel } = tuning;
        const request = calibrateRequest({
          ...base,
          ratio: spec.ratio,
          windowSize,
          poolingKernel,
          outPath: out,
          asiTopK: s.asiTopK,
          asiMode: s.asiMode,
          budgetRule: s.budgetRule,
        });
        const r = await this.client.request('calibrate', request, opts);
        this.calibrated.set(cell.notebook.uri.toString(), r.profilePath);
        outputs.push(
          new vscode.NotebookCellOutput([
            vscode.NotebookCellOutputItem.json(r.profile, PROFILE_MIME),
            vscode.NotebookCellOutputItem.text(`profile written to ${r.profilePath}`),
          ]),
        );
      } else if (spec.action === 'evaluate') {
        const ev = spec.evaluate!;
        const body: Omit<EvaluateRequest, 'outDir'> = {
          ...base,
          prompts: ev.promptsFile ? readPromptsFile(resolve(dirname(cell.notebook.uri.fsPath), ev.promptsFile)) : spec.prompts,
          seeds: ev.seeds,
          policies: spec.policies.length ? spec.policies : candidatePolicies(),
          ratios: ev.ratios,
          // the ablation and the rule comparison calibrate their own profiles; a cell's own "profile" still wins
          profilePath: spec.profile ?? (ev.ablation || ev.budgetRules.length ? undefined : profile),
          ablation: ev.ablation,
          budgetRules: ev.budgetRules,
          windowSize: s.windowSize,
          poolingKernel: s.poolingKernel,
          queryMode: s.queryMode,
        };
        const request: EvaluateRequest = { ...body, outDir: evaluationFolder(s.outDir, body) };
        const r = await this.client.request('evaluate', request, opts);
        outputs.push(
          new vscode.NotebookCellOutput([
            vscode.NotebookCellOutputItem.json(r.leaderboard, LEADERBOARD_MIME),
            vscode.NotebookCellOutputItem.text(readFileSync(r.tablePath, 'utf8'), 'text/markdown'),
          ]),
        );
      } else {
        const outDir = join(s.outDir, `compare-${Date.now()}`);
        const r = await this.client.request('compare', { base, policies: spec.policies.map(policy), outDir }, opts);
        outputs.push(
          new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.text(readFileSync(r.tablePath, 'utf8'), 'text/markdown')]),
        );
        for (const cand of r.candidates) outputs.push(...this.runOutputs(join(outDir, cand.id, 'run.json'), cand));
      }
      await ex.replaceOutput(outputs);
      ex.end(true, Date.now());
    } catch (e) {
      const err = e as Error & { code?: string };
      await ex.replaceOutput([
        new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.error({ name: err.code ?? 'ScaleKVError', message: err.message })]),
      ]);
      ex.end(false, Date.now());
    }
  }

  private runOutputs(runPath: string, run: RunRecord): vscode.NotebookCellOutput[] {
    const payload = runPayload(runPath, run);
    // the payload shows thumbnails; image/png carries the images at full size
    const png = run.images
      .map((im) => join(dirname(runPath), im.path))
      .filter((f) => existsSync(f))
      .map((f) => new vscode.NotebookCellOutputItem(readFileSync(f), 'image/png'));
    return [
      new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.json(payload, RUN_MIME), ...png.slice(0, 1)]),
      ...png.slice(1).map((p) => new vscode.NotebookCellOutput([p])),
    ];
  }

  dispose(): void {
    for (const c of this.controllers) c.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** whether the profile at path was made for this schedule (an unreadable one does not fit) */
function profileFits(path: string, schedule: ScaleShape[]): boolean {
  try {
    const p = JSON.parse(readFileSync(path, 'utf8')) as { model?: { schedule?: ScaleShape[] } };
    return !!p.model?.schedule && sameSchedule(p.model.schedule, schedule);
  } catch {
    return false;
  }
}

/** whether an .ipynb was saved with the ScaleKV kernelspec (VS Code keeps the file's metadata under metadata.metadata) */
function isScaleKVNotebook(nb: vscode.NotebookDocument): boolean {
  const m = nb.metadata as { metadata?: { kernelspec?: { name?: string } }; kernelspec?: { name?: string } };
  return (m.metadata?.kernelspec?.name ?? m.kernelspec?.name) === 'scalekv';
}
