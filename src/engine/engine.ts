/**
 * The engine: loads a model once per (path, provider) and runs generate / calibrate / compare jobs,
 * writing each run's images and records to disk. Lives in the engine process; the extension host
 * reaches it through src/engine/client.ts and the CLI calls it directly. Jobs run one at a time
 * (JobQueue): a request for another model waits instead of releasing the sessions a job is using.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appliedProfile, createPolicy, type CreatedPolicy } from '../scalekv/policies';
import { encodePng } from '../model/png';
import { downscaleChw } from '../model/thumbnail';
import { scaleSchedule } from '../model/schedule';
import { ScaleKVError } from '../shared/errors';
import { checkOutputFile, prepareOutputFolder, writeFileAtomic } from '../shared/outputFiles';
import type {
  CompareRequest,
  CompareResult,
  FidelityReport,
  GenerateRequest,
  ImageRecord,
  PolicySpec,
  RunNotice,
  RunRecord,
  ScaleShape,
} from '../shared/types';
import type { EngineApi, JobContext } from './api';
import { calibrateProfile } from './calibrate';
import { generateImages, type GenerationResult } from './generate';
import { loadModel, type LoadedModel } from './loadModel';
import { ModelCache } from './modelCache';
import { fidelityOfPixels } from './fidelity';
import { toUint8 } from './metrics';
import { JobQueue } from './jobQueue';
import { newRunId, writeRunFolder, writeRunRecord, writeTokens } from './runFiles';
import { resolvePolicySpec } from './policySpec';
import { formatCompareTable } from './compareTable';
import { validateGenerate } from './validateRequest';
import { evaluatePolicies } from './evaluate';

/** a run as written, with what compare needs to score it against the reference */
type WrittenRun = { run: RunRecord; runPath: string; images: Float32Array; bits: Uint8Array[] };

export function createEngine(): EngineApi & { dispose(): Promise<void> } {
  const models = new ModelCache(loadModel);
  const queue = new JobQueue();
  /** runs a job after the ones before it; the caller hears that it waits */
  const exclusive = <T>(ctx: JobContext, job: () => Promise<T>) =>
    queue.run(job, {
      signal: ctx.signal,
      onWait: () => ctx.onProgress({ stage: 'queued', message: 'Waiting for the running ScaleKV job to finish', fraction: 0 }),
    });
  const generate = (req: GenerateRequest, ctx: JobContext) => generateRun(models, req, ctx);

  const api: EngineApi & { dispose(): Promise<void> } = {
    generate: (req, ctx) =>
      exclusive(ctx, async () => {
        const { run, runPath } = await generate(req, ctx);
        return { run, runPath };
      }),

    calibrate: async (req, ctx) => {
      // an unwritable profile location fails now, not after minutes of measuring
      checkOutputFile(req.outPath);
      if (req.statePath) checkOutputFile(req.statePath);
      return exclusive(
        ctx,
        async () => (await models.withFallback(req.modelPath, req.provider, ctx, (m) => calibrateProfile(m, req, ctx))).result,
      );
    },

    compare: (req, ctx) => exclusive(ctx, () => compareRuns(generate, req, ctx)),

    // not a turn of its own: each of its generations takes one, so it interleaves with nothing else
    evaluate: (req, ctx) => evaluatePolicies(api, req, ctx),

    async describeModel(req, given) {
      // the loaded model's description needs no turn: it reads no session
      const loaded = models.peek(req.modelPath, req.provider);
      if (loaded) return { model: loaded.summary, provider: loaded.provider };
      const ctx: JobContext = given ?? { onProgress: () => {}, signal: new AbortController().signal };
      return exclusive(ctx, async () => {
        const m = await models.get(req.modelPath, req.provider, ctx);
        return { model: m.summary, provider: m.provider };
      });
    },

    async dispose() {
      // after the running job: releasing its sessions under it is what this queue prevents
      await queue.run(() => models.release());
    },
  };
  return api;
}

async function generateRun(models: ModelCache<LoadedModel>, req: GenerateRequest, ctx: JobContext): Promise<WrittenRun> {
  validateGenerate(req);
  // an unusable output location fails now, not after the model has loaded and the images are computed
  prepareOutputFolder(req.outDir);
  const { result, fellBack } = await models.withFallback(req.modelPath, req.provider, ctx, async (m) => {
    const notices = unknownWordNotices(m, req.prompts);
    const schedule = scaleSchedule(req.aspectRatio, req.resolution);
    const { spec, policy } = runPolicy(req, m, schedule, ctx, notices);
    const t0 = performance.now();
    const res = await generateImages(m.generation, {
      prompts: req.prompts,
      seed: req.seed,
      aspectRatio: req.aspectRatio,
      resolution: req.resolution,
      cfg: req.cfg,
      tau: req.tau,
      topK: req.topK,
      topP: req.topP,
      policy,
      queryMode: spec.queryMode ?? 'code',
      recordRetention: req.recordRetention ?? true,
      precision: req.precision,
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    });
    return { m, notices, spec, policy, res, totalMs: performance.now() - t0 };
  });
  const { m, notices, spec, policy, res, totalMs } = result;
  for (const why of fellBack) notices.push({ kind: 'provider-fallback', message: `${why}. This run used ${m.provider.used} instead.` });
  ctx.onProgress({ stage: 'write', message: 'Writing images', fraction: 1 });
  const { run, runPath } = writeRun(req, m, spec, policy, res, totalMs, notices);
  return { run, runPath, images: res.images, bits: res.bits };
}

/** the request's policy resolved against the model (a profile derived for it is noticed) and instantiated */
function runPolicy(
  req: GenerateRequest,
  m: LoadedModel,
  schedule: ScaleShape[],
  ctx: JobContext,
  notices: RunNotice[],
): { spec: PolicySpec; policy: CreatedPolicy } {
  const derived: string[] = [];
  const model = { depth: m.cfg.depth, numHeads: m.cfg.numHeads, headDim: m.cfg.embedDim / m.cfg.numHeads, schedule };
  const spec: PolicySpec = resolvePolicySpec(req.policy, { name: m.cfg.name, ...model }, m.defaultProfiles, derived, m.weightsSha256);
  checkRecordable(spec);
  for (const n of derived) {
    ctx.log?.('warn', n);
    notices.push({ kind: 'derived-profile', message: n });
  }
  return { spec, policy: createPolicy(spec, model) };
}

/** the run folder: each image as a PNG (and a thumbnail when it is large), its tokens, retention and run.json */
function writeRun(
  req: GenerateRequest,
  m: LoadedModel,
  spec: PolicySpec,
  policy: CreatedPolicy,
  res: GenerationResult,
  totalMs: number,
  notices: RunNotice[],
): { run: RunRecord; runPath: string } {
  const id = newRunId(spec.name, req.seed);
  return writeRunFolder(req.outDir, id, (dir): RunRecord => ({
    format: 'scalekv-run',
    version: 1,
    id,
    createdAt: new Date().toISOString(),
    model: m.summary,
    provider: m.provider,
    request: { ...req, policy: { ...spec, profile: undefined } },
    schedule: res.schedule,
    images: writeImages(dir, req, res),
    timings: res.timings,
    totalMs,
    kv: res.kv,
    tokensFile: writeTokens(dir, res.bits),
    retention: res.retention ? res.retention.write(join(dir, 'retention.bin'), 'retention.bin') : undefined,
    profile: spec.profile && appliedProfile(spec.profile, policy.budget, spec.ratio),
    notices,
  }));
}

function writeImages(dir: string, req: GenerateRequest, res: GenerationResult): ImageRecord[] {
  const plane = 3 * res.width * res.height;
  return req.prompts.map((prompt, b): ImageRecord => {
    const file = `image-${b}.png`;
    const pixels = toUint8(res.images.subarray(b * plane, (b + 1) * plane));
    writeFileSync(join(dir, file), encodePng(pixels, res.width, res.height));
    const thumb = downscaleChw(pixels, res.width, res.height);
    if (thumb.width === res.width) return { path: file, prompt, seed: req.seed, width: res.width, height: res.height };
    const thumbnail = `image-${b}.thumb.png`;
    writeFileSync(join(dir, thumbnail), encodePng(thumb.data, thumb.width, thumb.height));
    return { path: file, thumbnail, prompt, seed: req.seed, width: res.width, height: res.height };
  });
}

/** the full-cache reference, then each policy, each scored against the reference; a table and JSON beside them */
async function compareRuns(
  generate: (req: GenerateRequest, ctx: JobContext) => Promise<WrittenRun>,
  req: CompareRequest,
  ctx: JobContext,
): Promise<CompareResult> {
  if (!req.policies.length)
    throw new ScaleKVError('E_INVALID_REQUEST', 'Compare needs at least one policy besides the full-cache reference.');
  prepareOutputFolder(req.outDir);
  const sub = (i: number, n: number): JobContext => ({
    ...ctx,
    onProgress: (p) => ctx.onProgress({ ...p, stage: 'compare', fraction: (i + p.fraction) / n, message: `[${i + 1}/${n}] ${p.message}` }),
  });
  const n = req.policies.length + 1;
  const ref = await generate({ ...req.base, policy: { name: 'full' }, outDir: req.outDir, recordRetention: false }, sub(0, n));
  const candidates: RunRecord[] = [];
  const reports: FidelityReport[] = [];
  for (let i = 0; i < req.policies.length; i++) {
    const c = await generate({ ...req.base, policy: req.policies[i], outDir: req.outDir, recordRetention: true }, sub(i + 1, n));
    const report = fidelity(ref.run, ref.images, c.run, c.images, req.policies[i], ref.bits, c.bits);
    c.run.fidelity = report;
    writeRunRecord(join(req.outDir, c.run.id), c.run);
    candidates.push(c.run);
    reports.push(report);
  }
  const tablePath = join(req.outDir, 'compare.md');
  const jsonPath = join(req.outDir, 'compare.json');
  writeFileAtomic(tablePath, formatCompareTable(ref.run, candidates, reports));
  writeFileAtomic(jsonPath, JSON.stringify({ reference: ref.run.id, candidates: candidates.map((c) => c.id), reports }, null, 2));
  return { reference: ref.run, candidates, reports, tablePath, jsonPath };
}

/** a profile the run record could not hold (e.g. an extra field nested thousands deep) is refused before computing */
function checkRecordable(spec: PolicySpec): void {
  if (!spec.profile) return;
  try {
    JSON.stringify(spec.profile);
  } catch (e) {
    const which = spec.profilePath ? `The profile ${spec.profilePath}` : 'The profile';
    const why = `${which} cannot be recorded with the run: ${(e as Error).message}. Remove its deeply nested fields.`;
    throw new ScaleKVError('E_PROFILE_INVALID', why);
  }
}

/** fidelity of a run's images (as generated, in [-1, 1]) against its full-cache reference */
function fidelity(
  ref: RunRecord,
  refImages: Float32Array,
  cand: RunRecord,
  candImages: Float32Array,
  policy: PolicySpec,
  refBitsPerScale?: Uint8Array[],
  candBitsPerScale?: Uint8Array[],
): FidelityReport {
  return fidelityOfPixels(ref, toUint8(refImages), cand, toUint8(candImages), policy, refBitsPerScale, candBitsPerScale);
}

function unknownWordNotices(m: Pick<LoadedModel, 'unknownWords'>, prompts: string[]): RunNotice[] {
  return prompts.flatMap((prompt): RunNotice[] => {
    const words = m.unknownWords(prompt);
    if (!words.length) return [];
    const message = `Words outside the model's vocabulary in "${prompt}": ${words.join(', ')}. The image was generated anyway; the model has not learnt these words.`;
    return [{ kind: 'unknown-words', prompt, words, message }];
  });
}
