/**
 * Calibration: runs the full-cache model on prompts, measures every layer's Attention Selectivity
 * Index at every scale (the Eq. 2 factors and the older sum index) and the per-head statistics of HACK
 * and HeatKV, picks the drafters (Eq. 3's global ranking for the official budget rule, the lowest of
 * each scale for the legacy rule), derives budgets for the target ratio, and writes a profile.
 * Progress is saved after every prompt to a state file, so an interrupted calibration resumes where it
 * stopped (the prompt that was running is measured again).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { KvPolicy } from '../kvcache/policy';
import { scaleSchedule } from '../model/schedule';
import {
  AsiAccumulator,
  ASI_DEFINITIONS,
  checkAsiMode,
  checkAsiTopK,
  classifyLayers,
  DEFAULT_ASI_MODE,
  DEFAULT_ASI_TOP_K,
  rankDrafters,
  type AsiState,
} from '../scalekv/asi';
import { allocateBudgets } from '../scalekv/budgets';
import { HeadStatsAccumulator, type HeadStatsState } from '../scalekv/headStats';
import { defaultDrafterPairs, officialEligibleScales, uniformTokensPerLayer } from '../scalekv/officialRule';
import { createProfile, DEFAULT_SETTINGS } from '../scalekv/profile';
import { DEFAULTS } from '../shared/defaults';
import { ScaleKVError } from '../shared/errors';
import { writeFileAtomic } from '../shared/outputFiles';
import type { CalibrateRequest, ProfileSettings, ScaleKVProfile } from '../shared/types';
import type { JobContext } from './api';
import { generateImages } from './generate';
import type { LoadedModel } from './loadModel';

const DEFAULT_CALIBRATION_PROMPTS = [
  'a red apple on a wooden table',
  'a lighthouse on a cliff at dusk',
  'portrait photo of an old man with a white beard',
  'a city street at night in the rain, neon lights',
  'a small cat sleeping on a blue sofa',
  'a mountain lake with snow and a forest',
  'a detailed painting of a castle on a hill',
  'a bowl of colorful fruit, studio light',
  'a robot reading a book in a library',
  'a yellow flower field under a cloudy sky',
];

interface SavedState {
  version: 2;
  model: string;
  schedule: string;
  /** K' changes what is measured: a state made with another K' is not resumed */
  asiTopK: number;
  prompts: string[];
  asi: AsiState;
  heads: HeadStatsState;
}

export async function calibrateProfile(
  m: LoadedModel,
  req: CalibrateRequest,
  ctx: JobContext,
): Promise<{ profile: ScaleKVProfile; profilePath: string }> {
  const schedule = scaleSchedule(req.aspectRatio, req.resolution);
  const prompts = req.prompts?.length ? req.prompts : DEFAULT_CALIBRATION_PROMPTS;
  if (prompts.some((p) => typeof p !== 'string' || !p.trim()))
    throw new ScaleKVError('E_INVALID_REQUEST', 'Calibration prompts must be non-empty text.');
  const cfg = m.cfg;
  const asiMode = checkAsiMode(req.asiMode ?? DEFAULT_ASI_MODE);
  const asiTopK = checkAsiTopK(req.asiTopK ?? DEFAULT_ASI_TOP_K);
  const budgetRule = req.budgetRule ?? 'official';
  if (budgetRule !== 'official' && budgetRule !== 'legacy')
    throw new ScaleKVError('E_INVALID_REQUEST', `budgetRule must be official or legacy, got ${JSON.stringify(budgetRule)}.`);
  const settings: ProfileSettings = {
    ...DEFAULT_SETTINGS,
    targetRatio: req.targetRatio,
    windowSize: req.windowSize ?? DEFAULT_SETTINGS.windowSize,
    poolingKernel: req.poolingKernel ?? DEFAULT_SETTINGS.poolingKernel,
    draftersPerScale: req.draftersPerScale ?? Math.max(1, Math.round(cfg.depth / 16)),
    budgetRule,
    asiMode,
    asiTopK,
  };
  // fail on an impossible ratio or drafter count before spending minutes measuring
  const plan = budgetRule === 'legacy' ? allocateBudgets(schedule, cfg.depth, settings) : undefined;
  const eligible = budgetRule === 'official' ? officialEligibleScales(schedule, uniformTokensPerLayer(req.targetRatio, schedule)) : [];
  if (budgetRule === 'official') {
    const pairs = req.drafterPairs ?? defaultDrafterPairs(cfg.depth, eligible.length);
    if (!Number.isInteger(pairs) || pairs < 0 || pairs > cfg.depth * eligible.length) {
      throw new ScaleKVError(
        'E_INVALID_REQUEST',
        `drafterPairs (N_d) must be a whole number from 0 to the ${cfg.depth * eligible.length} layer-scale pairs that can be compressed at this ratio, got ${pairs}.`,
      );
    }
    settings.drafterPairs = pairs;
  }

  const statePath = req.statePath ?? `${req.outPath}.state.json`;
  const key = { model: `${cfg.name}:${cfg.depth}x${cfg.embedDim}`, schedule: JSON.stringify(schedule), asiTopK };
  let acc = new AsiAccumulator(cfg.depth, cfg.numHeads, schedule.length);
  let heads = new HeadStatsAccumulator(schedule, cfg.depth, cfg.numHeads);
  if (existsSync(statePath)) {
    try {
      const s = JSON.parse(readFileSync(statePath, 'utf8')) as SavedState;
      const same = s.version === 2 && s.model === key.model && s.schedule === key.schedule && s.asiTopK === asiTopK;
      if (same && JSON.stringify(s.prompts) === JSON.stringify(prompts)) {
        acc = AsiAccumulator.fromJSON(s.asi);
        heads = HeadStatsAccumulator.fromJSON(schedule, s.heads);
        ctx.log?.('info', `resuming calibration after ${acc.state.prompts} of ${prompts.length} prompts (${statePath})`);
      }
    } catch {
      acc = new AsiAccumulator(cfg.depth, cfg.numHeads, schedule.length);
      heads = new HeadStatsAccumulator(schedule, cfg.depth, cfg.numHeads);
      ctx.log?.('warn', `ignoring unreadable calibration state ${statePath}`);
    }
  }

  const rowsPerPrompt = 1; // conditional rows only: the unconditional branch shares the classification
  const collector: KvPolicy = {
    name: 'full',
    reset() {},
    needs: () => ({ windowQueries: null, queryMode: 'code', colsum: true, asiTopK }),
    select(c) {
      if (c.colsum) {
        acc.add(c.scaleIndex, c.layer, c.colsum, rowsPerPrompt, c.cacheLen, c.curLen, c.asiStats);
        heads.add(c.scaleIndex, c.layer, c.colsum, rowsPerPrompt, c.cacheLen, c.curLen);
      }
      return null;
    },
  };
  const seeds = req.seeds ?? prompts.map((_, i) => i);
  // calibration runs layer by layer in float32: the fused graphs' weights (4 GB in float16 for 2B) need
  // not sit beside its block sessions, and those (8.8 GB in float32) are let go when it ends, however it ends
  await m.generation.releaseFused?.();
  try {
    for (let i = acc.state.prompts; i < prompts.length; i++) {
      const snapshot = JSON.stringify(acc.state);
      const headSnapshot = JSON.stringify(heads.state);
      try {
        await generateImages(m.generation, {
          prompts: [prompts[i]],
          seed: seeds[i] ?? i,
          aspectRatio: req.aspectRatio,
          resolution: req.resolution,
          cfg: req.cfg,
          tau: DEFAULTS.tau,
          topK: DEFAULTS.topK,
          topP: DEFAULTS.topP,
          policy: collector,
          queryMode: 'code',
          recordRetention: false,
          skipDecode: true,
          signal: ctx.signal,
          onProgress: (p) =>
            ctx.onProgress({
              ...p,
              stage: 'calibrate',
              prompt: i,
              fraction: (i + p.fraction) / prompts.length,
              message: `Prompt ${i + 1}/${prompts.length}: ${p.message}`,
            }),
        });
      } catch (e) {
        // keep only whole prompts in the saved statistics
        acc = AsiAccumulator.fromJSON(JSON.parse(snapshot) as AsiState);
        heads = HeadStatsAccumulator.fromJSON(schedule, JSON.parse(headSnapshot) as HeadStatsState);
        throw e;
      }
      acc.state.prompts = i + 1;
      writeFileAtomic(
        statePath,
        JSON.stringify({ version: 2, ...key, prompts, asi: acc.toJSON(), heads: heads.toJSON() } satisfies SavedState),
      );
    }
  } finally {
    await m.generation.sessions.releaseBlocks();
  }

  const { perLayer, perHead } = acc.index(asiMode);
  const roles =
    budgetRule === 'official'
      ? rankDrafters(perLayer, eligible, settings.drafterPairs!)
      : perLayer.map((asi) => classifyLayers(asi, settings.draftersPerScale));
  const means = acc.allMeans();
  const round = (v: number) => Number(v.toFixed(6));
  const r2 = (x: number[][]) => x.map((l) => l.map(round));
  const heat = heads.heat();
  const profile = createProfile({
    model: { name: cfg.name, depth: cfg.depth, numHeads: cfg.numHeads, headDim: cfg.embedDim / cfg.numHeads, schedule },
    settings,
    plan,
    roles,
    asi: r2(perLayer),
    asiPerHead: perHead.map(r2),
    asiFactors: { current: r2(means.current), history: r2(means.history), sum: r2(means.sum) },
    hack: { verticality: r2(heads.hack().verticality) },
    heat: { scas: heat.scas.map((hs) => hs.map((ss) => ss.map((v) => Number(v.toPrecision(6))))) },
    calibration: {
      prompts,
      seeds: prompts.map((_, i) => seeds[i] ?? i),
      cfg: req.cfg,
      resolution: req.resolution,
      aspectRatio: req.aspectRatio,
      completedPrompts: acc.state.prompts,
      asiDefinition: asiMode === 'sum' ? ASI_DEFINITIONS.sum : ASI_DEFINITIONS[asiMode].replace("K'", `K' = ${asiTopK}`),
    },
    origin: 'calibration',
  });
  // a profile measures these weights: record them, so a profile left beside new weights is refused
  if (m.weightsSha256) profile.weights = { transformerSha256: m.weightsSha256 };
  writeFileAtomic(req.outPath, JSON.stringify(profile, null, 2));
  if (!req.keepState) rmSync(statePath, { force: true });
  return { profile, profilePath: req.outPath };
}
