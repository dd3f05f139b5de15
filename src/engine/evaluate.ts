/**
 * The evaluation job: for every prompt and seed, the full cache once (the reference), then every
 * planned row (policy x ratio, x budget rule, x ASI mode) measured against it: PSNR and SSIM of the
 * images, agreement of the last scale's sampled bits, KV held and peak, time. Writes leaderboard.json
 * and leaderboard.md (atomically) into the output folder.
 *
 * Resumable like calibration: every measured row is saved at once to evaluate.state.json (atomically),
 * with the references' run folders kept under runs/, so an interrupted evaluation run again with the
 * same settings recomputes only what was missing (the row that was running when it stopped). The state
 * is kept after the end, so a later call with more policies, ratios or prompts adds only their rows.
 * Works through the engine's public API (generate / calibrate / describeModel); the measurements come
 * from the files each run writes (its PNG holds exactly the 8-bit values the metrics use).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodePngPlanes } from '../model/png';
import { scaleSchedule } from '../model/schedule';
import { createPolicy } from '../scalekv/policies';
import { cancelled, ScaleKVError, toErrorInfo } from '../shared/errors';
import type {
  AsiModeName,
  BudgetRuleName,
  CalibrateRequest,
  DescribeRequest,
  EvaluateRequest,
  EvaluateResult,
  GenerateRequest,
  Leaderboard,
  LeaderboardPromptRow,
  LeaderboardReference,
  ModelSummary,
  PolicySpec,
  Progress,
  ProfileModelRef,
  ProviderInfo,
  RunRecord,
  ScaleKVProfile,
} from '../shared/types';
import type { JobContext } from './api';
import { atomicWrite } from './atomicWrite';
import { calibrates, matchProfiles, planRows, validateEvaluateRequest, type GivenProfile, type PlannedRow } from './evaluatePlan';
import { fidelityOfPixels } from './fidelity';
import { aggregateRows, formatLeaderboard, rankRows } from './leaderboard';
import { readProfileOrTable, resolvePolicySpec, usesProfile } from './policySpec';
import { readTokens } from './runFiles';

/** the parts of the engine an evaluation uses (EngineApi has them; tests wrap it to count calls) */
export interface EvaluationEngine {
  generate(req: GenerateRequest, ctx: JobContext): Promise<{ run: RunRecord; runPath: string }>;
  calibrate(req: CalibrateRequest, ctx: JobContext): Promise<{ profile: ScaleKVProfile; profilePath: string }>;
  describeModel(req: DescribeRequest): Promise<{ model: ModelSummary; provider: ProviderInfo }>;
}

interface State {
  version: 1;
  /** what makes finished rows reusable: model, size, sampling, selection settings, profile source */
  settings: string;
  meta?: { model: ModelSummary; provider: ProviderInfo; image: { width: number; height: number } };
  references: Record<string, LeaderboardReference>;
  /** calibrated profiles by profileKey */
  profiles: Record<string, string>;
  /** measured rows by cellKey */
  cells: Record<string, LeaderboardPromptRow>;
}

/** a policy spec with the options another build's policies and calibration may read; this one ignores them */
type PassThrough = { budgetRule?: BudgetRuleName; asiMode?: AsiModeName };

export const STATE_FILE = 'evaluate.state.json';
const caseKey = (prompt: string, seed: number) => JSON.stringify([prompt, seed]);
const cellKey = (c: string, row: string) => `${c}#${row}`;
const profileKey = (rule: string | undefined, mode: string | undefined, ratio: number) => `${rule ?? '-'}|${mode ?? '-'}|${ratio}`;

function settingsKey(req: EvaluateRequest): string {
  const { modelPath, resolution, aspectRatio, cfg, tau, topK, topP, provider } = req;
  const { windowSize, poolingKernel, queryMode, profilePath, profileSet, calibrationPrompts } = req;
  const calibrate = calibrates(req);
  const selection = { windowSize, poolingKernel, queryMode, profilePath, profileSet, calibrate, calibrationPrompts };
  return JSON.stringify({ modelPath, resolution, aspectRatio, cfg, tau, topK, topP, provider, ...selection });
}

function loadState(path: string, settings: string, ctx: JobContext): State {
  const fresh: State = { version: 1, settings, references: {}, profiles: {}, cells: {} };
  if (!existsSync(path)) return fresh;
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as State;
    if (s.version === 1 && s.settings === settings && s.cells && s.references && s.profiles) return s;
    ctx.log?.('info', `${path} was written with other settings; starting the evaluation afresh`);
  } catch {
    ctx.log?.('warn', `ignoring unreadable evaluation state ${path}`);
  }
  return fresh;
}

interface Measured {
  run: RunRecord;
  pixels: Uint8Array;
  bits: Uint8Array[];
}

function readRun(runPath: string): Measured {
  const run = JSON.parse(readFileSync(runPath, 'utf8')) as RunRecord;
  const dir = dirname(runPath);
  const pixels = decodePngPlanes(readFileSync(join(dir, run.images[0].path)), run.images[0].path).chw;
  return { run, pixels, bits: readTokens(dir, run, run.model.codebookDim) };
}

/** a row's error names the row, keeping its code */
function forRow(row: PlannedRow, e: unknown): ScaleKVError {
  const i = toErrorInfo(e);
  return new ScaleKVError(i.code, `${row.label} at ratio ${row.ratio}: ${i.message}`, i.detail);
}

export async function evaluatePolicies(engine: EvaluationEngine, request: EvaluateRequest, ctx: JobContext): Promise<EvaluateResult> {
  const req = validateEvaluateRequest(request);
  const plan = planRows(req);
  const schedule = scaleSchedule(req.aspectRatio, req.resolution);
  const runsDir = join(req.outDir, 'runs');
  const profilesDir = join(req.outDir, 'profiles');
  mkdirSync(runsDir, { recursive: true });
  const statePath = join(req.outDir, STATE_FILE);
  const state = loadState(statePath, settingsKey(req), ctx);
  const save = () => atomicWrite(statePath, JSON.stringify(state));
  const check = () => {
    if (ctx.signal.aborted) throw cancelled();
  };

  const cases = req.seeds.flatMap((seed) => req.prompts.map((prompt) => ({ prompt, seed, key: caseKey(prompt, seed) })));
  const calibrated = calibrates(req);
  const profileRows = plan.filter((r) => usesProfile(r.policy));
  const needs = calibrated
    ? [
        ...new Map(
          profileRows.map((r) => {
            const mode = r.asiMode ?? (req.ablation ? 'eq2' : undefined);
            return [profileKey(r.budgetRule, mode, r.ratio), { rule: r.budgetRule, mode, ratio: r.ratio }] as const;
          }),
        ).entries(),
      ]
    : [];
  let fromSet = new Map<string, string>();
  const profileFor = (r: PlannedRow): string | undefined => {
    if (!usesProfile(r.policy)) return undefined;
    if (req.profilePath) return req.profilePath;
    if (req.profileSet?.length) return fromSet.get(r.key);
    return calibrated ? state.profiles[profileKey(r.budgetRule, r.asiMode ?? (req.ablation ? 'eq2' : undefined), r.ratio)] : undefined;
  };
  const specFor = (r: PlannedRow): PolicySpec & PassThrough => ({
    name: r.policy,
    ratio: r.ratio,
    windowSize: req.windowSize,
    poolingKernel: req.poolingKernel,
    queryMode: req.queryMode,
    profilePath: profileFor(r),
    ...(r.budgetRule && { budgetRule: r.budgetRule }),
  });

  const total = needs.length + cases.length * (1 + plan.length);
  let done = 0;
  const step = (message: string): JobContext => {
    ctx.onProgress({ stage: 'evaluate', message, fraction: done / total });
    const at = done;
    const inner = (p: Progress) => ctx.onProgress({ ...p, fraction: (at + p.fraction) / total, message: `${message}: ${p.message}` });
    return { ...ctx, onProgress: inner };
  };

  // every row's budgets are checked on the model's shapes before anything is generated
  ctx.onProgress({ stage: 'load', message: 'Loading the model', fraction: 0 });
  const { model } = await engine.describeModel({ modelPath: req.modelPath, provider: req.provider });
  const modelRef: ProfileModelRef = { name: model.name, depth: model.depth, numHeads: model.numHeads, headDim: model.headDim, schedule };
  const given = (req.profileSet ?? []).map((path): GivenProfile => {
    const p = readProfileOrTable(path, modelRef);
    return { path, ratio: p.settings.targetRatio, rule: p.settings.budgetRule ?? 'legacy' };
  });
  if (given.length) fromSet = matchProfiles(profileRows, given);
  const preflight = (rows: PlannedRow[]) => {
    for (const r of rows) {
      const spec = specFor(r);
      // ScaleKV, HACK and HeatKV without a profile take the model's shipped one, which only the engine knows
      if (usesProfile(r.policy) && r.policy !== 'amskv' && !spec.profilePath) continue;
      try {
        createPolicy(resolvePolicySpec(spec, modelRef), modelRef);
      } catch (e) {
        throw forRow(r, e);
      }
    }
  };
  preflight(plan.filter((r) => !calibrated || !usesProfile(r.policy)));

  for (const [key, n] of needs) {
    check();
    const have = state.profiles[key];
    if (!have || !existsSync(have)) {
      mkdirSync(profilesDir, { recursive: true });
      const name = `scalekv-${n.mode ?? 'default'}-${n.rule ?? 'default'}-${n.ratio}.json`;
      const extra: PassThrough = { ...(n.mode && { asiMode: n.mode }), ...(n.rule && { budgetRule: n.rule }) };
      const calReq: CalibrateRequest & PassThrough = {
        modelPath: req.modelPath,
        prompts: req.calibrationPrompts ?? [],
        targetRatio: n.ratio,
        aspectRatio: req.aspectRatio,
        resolution: req.resolution,
        cfg: req.cfg,
        provider: req.provider,
        outPath: join(profilesDir, name),
        windowSize: req.windowSize,
        poolingKernel: req.poolingKernel,
        ...extra,
      };
      const what = `ratio ${n.ratio}${n.rule ? `, ${n.rule} rule` : ''}${n.mode ? `, ASI ${n.mode}` : ''}`;
      const r = await engine.calibrate(calReq, step(`Calibrating ScaleKV for ${what}`));
      state.profiles[key] = r.profilePath;
      save();
    }
    done++;
  }
  preflight(plan.filter((r) => calibrated && usesProfile(r.policy)));

  let computed = 0;
  let resumed = 0;
  for (const [ci, c] of cases.entries()) {
    check();
    const todo = plan.filter((r) => !state.cells[cellKey(c.key, r.key)]);
    resumed += plan.length - todo.length;
    if (!todo.length) {
      done += 1 + plan.length;
      continue;
    }
    const base = {
      modelPath: req.modelPath,
      prompts: [c.prompt],
      seed: c.seed,
      aspectRatio: req.aspectRatio,
      resolution: req.resolution,
      cfg: req.cfg,
      tau: req.tau,
      topK: req.topK,
      topP: req.topP,
      provider: req.provider,
      outDir: runsDir,
      recordRetention: false,
    };
    const caseName = `prompt ${req.prompts.indexOf(c.prompt) + 1}/${req.prompts.length}, seed ${c.seed}`;
    let ref: Measured | null = null;
    const saved = state.references[c.key];
    if (saved) {
      try {
        ref = readRun(join(runsDir, saved.run, 'run.json'));
      } catch {
        ctx.log?.('warn', `the reference run ${saved.run} is missing or unreadable; running the full cache again`);
      }
    }
    if (!ref) {
      const r = await engine.generate({ ...base, policy: { name: 'full' } }, step(`${caseName}: full cache`));
      ref = readRun(r.runPath);
      const { id, totalMs, kv, model: m, provider, images } = r.run;
      const held = { kvHeldBytes: kv.finalHeldBytes, kvPeakBytes: kv.peakBytes };
      state.references[c.key] = { prompt: c.prompt, seed: c.seed, run: id, ms: totalMs, ...held };
      state.meta = { model: m, provider, image: { width: images[0].width, height: images[0].height } };
      save();
    }
    done++;
    done += plan.length - todo.length;
    for (const row of todo) {
      check();
      const spec = specFor(row);
      let cand: Measured;
      let candDir: string;
      try {
        const r = await engine.generate({ ...base, policy: spec }, step(`${caseName}: ${row.label} at ${row.ratio}`));
        candDir = dirname(r.runPath);
        cand = readRun(r.runPath);
      } catch (e) {
        if (toErrorInfo(e).code === 'E_CANCELLED') throw e;
        throw forRow(row, e);
      }
      const rep = fidelityOfPixels(ref.run, ref.pixels, cand.run, cand.pixels, spec, ref.bits, cand.bits);
      const im = rep.images[0];
      state.cells[cellKey(c.key, row.key)] = {
        row: row.key,
        prompt: c.prompt,
        seed: c.seed,
        candidateRun: cand.run.id,
        psnr: im.psnr === Infinity ? null : im.psnr,
        ssim: im.ssim,
        bitAgreement: rep.tokenAgreement.at(-1)?.agreement ?? NaN,
        kvHeldBytes: cand.run.kv.finalHeldBytes,
        kvPeakBytes: cand.run.kv.peakBytes,
        kvHeldRatio: rep.kvHeldRatio,
        kvPeakRatio: rep.kvPeakRatio,
        ms: cand.run.totalMs,
        timeRatio: cand.run.totalMs / ref.run.totalMs,
      };
      save();
      if (!req.keepRuns) rmSync(candDir, { recursive: true, force: true });
      computed++;
      done++;
    }
    // every case up to this one is finished: a leaderboard of them, for watching or merging a sharded run
    if (req.progressive && ci < cases.length - 1) writeLeaderboard(cases.slice(0, ci + 1));
  }

  const { lb, jsonPath, tablePath } = writeLeaderboard(cases);
  ctx.onProgress({ stage: 'write', message: `Leaderboard written (${computed} rows measured, ${resumed} resumed)`, fraction: 1 });
  return { leaderboard: lb, jsonPath, tablePath, computed, resumed };

  function writeLeaderboard(finished: typeof cases) {
    const perPrompt = finished.flatMap((c) => plan.map((r) => state.cells[cellKey(c.key, r.key)]).filter((x) => !!x));
    const meta = state.meta;
    if (!meta) throw new ScaleKVError('E_INTERNAL', `${statePath} names finished rows but no reference run; delete it and evaluate again.`);
    const profiles = profileList(req, needs, state, given);
    const partial = finished.length < cases.length;
    const lb = leaderboardOf(meta, profiles, finished, perPrompt, partial);
    const jsonPath = join(req.outDir, 'leaderboard.json');
    const tablePath = join(req.outDir, 'leaderboard.md');
    atomicWrite(jsonPath, JSON.stringify(lb, null, 2));
    atomicWrite(tablePath, formatLeaderboard(lb));
    return { lb, jsonPath, tablePath };
  }

  function leaderboardOf(
    meta: NonNullable<State['meta']>,
    profiles: Leaderboard['profiles'],
    finished: typeof cases,
    perPrompt: LeaderboardPromptRow[],
    partial: boolean,
  ): Leaderboard {
    const stillRunning =
      `Partial: ${finished.length} of ${cases.length} prompt and seed case(s) finished so far; ` +
      'the evaluation is running or was stopped.';
    return {
      format: 'scalekv-leaderboard',
      version: 1,
      createdAt: new Date().toISOString(),
      model: meta.model,
      provider: meta.provider,
      resolution: req.resolution,
      aspectRatio: req.aspectRatio,
      image: meta.image,
      prompts: partial ? [...new Set(finished.map((c) => c.prompt))] : req.prompts,
      seeds: partial ? [...new Set(finished.map((c) => c.seed))] : req.seeds,
      ratios: req.ratios,
      policies: req.policies,
      budgetRules: req.budgetRules ?? [],
      ablation: !!req.ablation,
      profiles,
      references: finished.map((c) => state.references[c.key]).filter((x) => !!x),
      rows: rankRows(aggregateRows(plan, perPrompt)),
      perPrompt,
      notes: [...notes(req, plan, perPrompt, profiles, resumed), ...(partial ? [stillRunning] : [])],
    };
  }
}

type ProfileNeed = [key: string, need: { rule?: BudgetRuleName; mode?: AsiModeName; ratio: number }];

function profileList(req: EvaluateRequest, needs: ProfileNeed[], state: State, given: GivenProfile[]): Leaderboard['profiles'] {
  if (given.length) return given.map((p) => ({ rule: p.rule, ratio: p.ratio, path: p.path, origin: 'given, one of the profile set' }));
  if (req.profilePath) {
    return [{ ratio: readRatio(req.profilePath), path: req.profilePath, origin: 'given; other ratios re-derive budgets from its roles' }];
  }
  return needs.map(([key, n]) => ({
    ...(n.rule && { rule: n.rule }),
    ...(n.mode && { asiMode: n.mode }),
    ratio: n.ratio,
    path: state.profiles[key],
    origin: 'calibrated by this evaluation',
  }));
}

function readRatio(path: string): number {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as ScaleKVProfile).settings?.targetRatio ?? 0.1;
  } catch {
    return 0.1;
  }
}

function rolesOf(path: string | undefined): string | null {
  try {
    return path ? JSON.stringify((JSON.parse(readFileSync(path, 'utf8')) as ScaleKVProfile).scales.map((s) => s.roles)) : null;
  } catch {
    return null;
  }
}

/** what a reader must know to read the table right, including where a compared option made no difference */
function notes(
  req: EvaluateRequest,
  plan: PlannedRow[],
  perPrompt: LeaderboardPromptRow[],
  profiles: Leaderboard['profiles'],
  resumed: number,
): string[] {
  const out: string[] = [];
  if (plan.some((r) => r.policy === 'scalekv') && !req.profilePath && !req.profileSet?.length && !calibrates(req)) {
    out.push("ScaleKV used the model's shipped profile for this schedule; at other ratios than its own, budgets come from its roles.");
  }
  if (calibrates(req) && plan.some((r) => usesProfile(r.policy))) {
    const per = `one per ratio${req.budgetRules?.length ? ' and budget rule' : ''}${req.ablation ? ' and ASI variant' : ''}`;
    out.push(`ScaleKV profiles were calibrated on ${req.calibrationPrompts?.length || 'the 10 built-in'} calibration prompts, ${per}.`);
  }
  const sameRow = (x: LeaderboardPromptRow, y: LeaderboardPromptRow) =>
    x.psnr === y.psnr && x.ssim === y.ssim && x.kvHeldBytes === y.kvHeldBytes;
  const same = (a: PlannedRow, b: PlannedRow) => {
    const ra = perPrompt.filter((x) => x.row === a.key);
    const rb = perPrompt.filter((x) => x.row === b.key);
    return ra.length > 0 && ra.length === rb.length && ra.every((x, i) => sameRow(x, rb[i]));
  };
  if ((req.budgetRules?.length ?? 0) > 1) {
    out.push('The budget rule is passed to calibration and to every policy as budgetRule.');
    const [a, b] = req.budgetRules!;
    const twin = (r: PlannedRow) =>
      plan.find((s) => s.budgetRule === b && s.policy === r.policy && s.ratio === r.ratio && s.asiMode === r.asiMode)!;
    const pairs = plan.filter((r) => r.budgetRule === a).map((r) => [r, twin(r)] as const);
    if (pairs.length && pairs.every(([x, y]) => same(x, y))) {
      out.push(`Every row measured the same under the ${a} and ${b} rules: this build's policies may not read budgetRule.`);
    }
  }
  if (req.ablation) {
    out.push(
      'The ablation calibrates ScaleKV with asiMode eq2 (the product of both factors, Eq. 2), current (the current-map attention share ' +
        "alone) and history (the history top-K' share alone), as in the paper's Fig. 6b.",
    );
    for (const ratio of req.ratios) {
      for (const rule of req.budgetRules?.length ? req.budgetRules : [undefined]) {
        const rs = profiles.filter((p) => p.ratio === ratio && p.rule === rule).map((p) => rolesOf(p.path));
        if (rs.length > 1 && rs.every((x) => x !== null && x === rs[0])) {
          const at = `At ratio ${ratio}${rule ? ` (${rule} rule)` : ''}`;
          out.push(`${at} the three ASI variants chose the same drafters: this build's calibration may not read asiMode.`);
        }
      }
    }
  }
  if (resumed) out.push(`${resumed} row measurement(s) were taken from an earlier, interrupted or smaller evaluation in the same folder.`);
  return out;
}
