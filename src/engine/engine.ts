/**
 * The engine: loads a model once per (path, provider) and runs generate / calibrate / compare jobs,
 * writing each run's images and records to disk. Lives in the engine process; the extension host
 * reaches it through src/engine/client.ts and the CLI calls it directly.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appliedProfile, createPolicy } from '../scalekv/policies';
import { encodePng } from '../model/png';
import { downscaleChw } from '../model/thumbnail';
import { scaleSchedule } from '../model/schedule';
import { ScaleKVError } from '../shared/errors';
import type { CompareRequest, CompareResult, FidelityReport, GenerateRequest, ImageRecord, PolicySpec, RunRecord } from '../shared/types';
import type { EngineApi, JobContext } from './api';
import { calibrateProfile } from './calibrate';
import { generateImages } from './generate';
import { loadModel, type LoadedModel } from './loadModel';
import { agreement, psnr, ssim, toUint8 } from './metrics';
import { newRunId, runDir, writeRunRecord, writeTokens } from './runFiles';
import { resolvePolicySpec } from './policySpec';
import { formatCompareTable } from './compareTable';

export function createEngine(): EngineApi & { dispose(): Promise<void> } {
  let cached: { key: string; model: LoadedModel } | null = null;

  async function model(path: string | undefined, provider: string, ctx: JobContext): Promise<LoadedModel> {
    const key = `${path ?? '<embedded>'}|${provider}`;
    if (cached?.key === key) return cached.model;
    if (cached) {
      await cached.model.release();
      cached = null;
    }
    const m = await loadModel(path, provider as GenerateRequest['provider'], ctx);
    cached = { key, model: m };
    return m;
  }

  async function generate(req: GenerateRequest, ctx: JobContext): Promise<{ run: RunRecord; runPath: string; images: Float32Array; bits: Uint8Array[] }> {
    validateGenerate(req);
    const m = await model(req.modelPath, req.provider, ctx);
    const schedule = scaleSchedule(req.aspectRatio, req.resolution);
    const spec: PolicySpec = resolvePolicySpec(req.policy, { name: m.cfg.name, depth: m.cfg.depth, numHeads: m.cfg.numHeads, headDim: m.cfg.embedDim / m.cfg.numHeads, schedule }, m.defaultProfiles);
    const policy = createPolicy(spec, { depth: m.cfg.depth, numHeads: m.cfg.numHeads, headDim: m.cfg.embedDim / m.cfg.numHeads, schedule });
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
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    });
    const totalMs = performance.now() - t0;
    ctx.onProgress({ stage: 'write', message: 'Writing images', fraction: 1 });
    const id = newRunId(spec.name, req.seed);
    const dir = runDir(req.outDir, id);
    const plane = 3 * res.width * res.height;
    const images = req.prompts.map((prompt, b): ImageRecord => {
      const file = `image-${b}.png`;
      const pixels = toUint8(res.images.subarray(b * plane, (b + 1) * plane));
      writeFileSync(join(dir, file), encodePng(pixels, res.width, res.height));
      const thumb = downscaleChw(pixels, res.width, res.height);
      if (thumb.width === res.width) return { path: file, prompt, seed: req.seed, width: res.width, height: res.height };
      const thumbnail = `image-${b}.thumb.png`;
      writeFileSync(join(dir, thumbnail), encodePng(thumb.data, thumb.width, thumb.height));
      return { path: file, thumbnail, prompt, seed: req.seed, width: res.width, height: res.height };
    });
    const run: RunRecord = {
      format: 'scalekv-run',
      version: 1,
      id,
      createdAt: new Date().toISOString(),
      model: m.summary,
      provider: m.provider,
      request: { ...req, policy: { ...spec, profile: undefined } },
      schedule: res.schedule,
      images,
      timings: res.timings,
      totalMs,
      kv: res.kv,
      tokensFile: writeTokens(dir, res.bits),
      retention: res.retention ? res.retention.write(join(dir, 'retention.bin'), 'retention.bin') : undefined,
      profile: spec.profile && appliedProfile(spec.profile, policy.budget, spec.ratio),
    };
    const runPath = writeRunRecord(dir, run);
    return { run, runPath, images: res.images, bits: res.bits };
  }

  return {
    async generate(req, ctx) {
      const { run, runPath } = await generate(req, ctx);
      return { run, runPath };
    },

    async calibrate(req, ctx) {
      const m = await model(req.modelPath, req.provider, ctx);
      return calibrateProfile(m, req, ctx);
    },

    async compare(req: CompareRequest, ctx: JobContext): Promise<CompareResult> {
      if (!req.policies.length) throw new ScaleKVError('E_INVALID_REQUEST', 'Compare needs at least one policy besides the full-cache reference.');
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
      writeFileSync(tablePath, formatCompareTable(ref.run, candidates, reports));
      writeFileSync(jsonPath, JSON.stringify({ reference: ref.run.id, candidates: candidates.map((c) => c.id), reports }, null, 2));
      return { reference: ref.run, candidates, reports, tablePath, jsonPath };
    },

    async describeModel(req, ctx = { onProgress: () => {}, signal: new AbortController().signal }) {
      const m = await model(req.modelPath, req.provider, ctx);
      return { model: m.summary, provider: m.provider };
    },

    async dispose() {
      await cached?.model.release();
      cached = null;
    },
  };
}

export function fidelity(
  ref: RunRecord,
  refImages: Float32Array,
  cand: RunRecord,
  candImages: Float32Array,
  policy: PolicySpec,
  refBitsPerScale?: Uint8Array[],
  candBitsPerScale?: Uint8Array[],
): FidelityReport {
  const W = ref.images[0].width;
  const H = ref.images[0].height;
  const plane = 3 * W * H;
  const images = ref.images.map((im, b) => {
    const a = toUint8(refImages.subarray(b * plane, (b + 1) * plane));
    const c = toUint8(candImages.subarray(b * plane, (b + 1) * plane));
    return { prompt: im.prompt, seed: im.seed, psnr: psnr(a, c), ssim: ssim(a, c, 3, H, W), lpips: null };
  });
  const tokenAgreement = ref.schedule.map((s, si) => ({
    scaleIndex: si,
    agreement: refBitsPerScale && candBitsPerScale ? agreement(refBitsPerScale[si], candBitsPerScale[si]) : NaN,
  }));
  return {
    referenceRun: ref.id,
    candidateRun: cand.id,
    policy: { ...policy, profile: undefined },
    images,
    tokenAgreement,
    kvHeldRatio: cand.kv.finalHeldBytes / ref.kv.finalHeldBytes,
    kvPeakRatio: cand.kv.peakBytes / ref.kv.peakBytes,
    timePerScale: ref.timings.map((t, i) => ({ scaleIndex: t.scaleIndex, referenceMs: t.ms, candidateMs: cand.timings[i]?.ms ?? NaN })),
    lpipsNote: 'LPIPS needs pretrained AlexNet/VGG weights, which cannot be downloaded here; reported as null.',
  };
}

function validateGenerate(req: GenerateRequest): void {
  const bad = (m: string) => {
    throw new ScaleKVError('E_INVALID_REQUEST', m);
  };
  if (!Array.isArray(req.prompts) || req.prompts.length === 0) bad('At least one prompt is needed.');
  if (req.prompts.some((p) => typeof p !== 'string' || !p.trim())) bad('Prompts must be non-empty text.');
  if (!Number.isInteger(req.seed) || req.seed < 0) bad(`Seed must be a non-negative integer, got ${req.seed}.`);
  if (!(req.cfg > 0)) bad(`CFG scale must be positive, got ${req.cfg}.`);
  if (!(req.tau > 0)) bad(`Temperature tau must be positive, got ${req.tau}.`);
  if (!(req.topP >= 0 && req.topP <= 1)) bad(`top-p must be within [0, 1], got ${req.topP}.`);
  if (!(req.topK >= 0)) bad(`top-k must be >= 0, got ${req.topK}.`);
  scaleSchedule(req.aspectRatio, req.resolution); // E_RESOLUTION for impossible sizes
}

