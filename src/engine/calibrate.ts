/**
 * Calibration: runs the full-cache model on prompts, measures every layer's Attention Selectivity
 * Index at every scale, picks each scale's drafters, allocates budgets for the target ratio, and
 * writes a profile. Progress is saved after every prompt to a state file, so an interrupted
 * calibration resumes where it stopped (the prompt that was running is measured again).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { KvPolicy } from '../kvcache/policy';
import { scaleSchedule } from '../model/schedule';
import { AsiAccumulator, ASI_DEFINITION, type AsiState } from '../scalekv/asi';
import { allocateBudgets } from '../scalekv/budgets';
import { createProfile, DEFAULT_SETTINGS } from '../scalekv/profile';
import { ScaleKVError } from '../shared/errors';
import type { CalibrateRequest, ProfileSettings, ScaleKVProfile } from '../shared/types';
import type { JobContext } from './api';
import { atomicWrite } from './atomicWrite';
import { generateImages } from './generate';
import type { LoadedModel } from './loadModel';

export const DEFAULT_CALIBRATION_PROMPTS = [
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
  version: 1;
  model: string;
  schedule: string;
  prompts: string[];
  asi: AsiState;
}

export async function calibrateProfile(m: LoadedModel, req: CalibrateRequest, ctx: JobContext): Promise<{ profile: ScaleKVProfile; profilePath: string }> {
  const schedule = scaleSchedule(req.aspectRatio, req.resolution);
  const prompts = req.prompts?.length ? req.prompts : DEFAULT_CALIBRATION_PROMPTS;
  if (prompts.some((p) => typeof p !== 'string' || !p.trim())) throw new ScaleKVError('E_INVALID_REQUEST', 'Calibration prompts must be non-empty text.');
  const cfg = m.cfg;
  const settings: ProfileSettings = {
    ...DEFAULT_SETTINGS,
    targetRatio: req.targetRatio,
    windowSize: req.windowSize ?? DEFAULT_SETTINGS.windowSize,
    poolingKernel: req.poolingKernel ?? DEFAULT_SETTINGS.poolingKernel,
    draftersPerScale: req.draftersPerScale ?? Math.max(1, Math.round(cfg.depth / 16)),
  };
  // fail on an impossible ratio before spending minutes measuring
  const plan = allocateBudgets(schedule, cfg.depth, settings);

  const statePath = req.statePath ?? `${req.outPath}.state.json`;
  const key = { model: `${cfg.name}:${cfg.depth}x${cfg.embedDim}`, schedule: JSON.stringify(schedule) };
  let acc = new AsiAccumulator(cfg.depth, cfg.numHeads, schedule.length);
  if (existsSync(statePath)) {
    try {
      const s: SavedState = JSON.parse(readFileSync(statePath, 'utf8'));
      if (s.version === 1 && s.model === key.model && s.schedule === key.schedule && JSON.stringify(s.prompts) === JSON.stringify(prompts)) {
        acc = AsiAccumulator.fromJSON(s.asi);
        ctx.log?.('info', `resuming calibration after ${acc.state.prompts} of ${prompts.length} prompts (${statePath})`);
      }
    } catch {
      ctx.log?.('warn', `ignoring unreadable calibration state ${statePath}`);
    }
  }

  const rowsPerPrompt = 1; // conditional rows only: the unconditional branch shares the classification
  const collector: KvPolicy = {
    name: 'full',
    reset() {},
    needs: () => ({ windowQueries: null, queryMode: 'code', colsum: true }),
    select(c) {
      if (c.colsum) acc.add(c.scaleIndex, c.layer, c.colsum, rowsPerPrompt, c.cacheLen, c.curLen);
      return null;
    },
  };
  const seeds = req.seeds ?? prompts.map((_, i) => i);
  for (let i = acc.state.prompts; i < prompts.length; i++) {
    const snapshot = JSON.stringify(acc.state);
    try {
      await generateImages(m.generation, {
        prompts: [prompts[i]],
        seed: seeds[i] ?? i,
        aspectRatio: req.aspectRatio,
        resolution: req.resolution,
        cfg: req.cfg,
        tau: 1,
        topK: 900,
        topP: 0.97,
        policy: collector,
        queryMode: 'code',
        recordRetention: false,
        skipDecode: true,
        signal: ctx.signal,
        onProgress: (p) => ctx.onProgress({ ...p, stage: 'calibrate', prompt: i, fraction: (i + p.fraction) / prompts.length, message: `Prompt ${i + 1}/${prompts.length}: ${p.message}` }),
      });
    } catch (e) {
      // keep only whole prompts in the saved statistics
      acc = AsiAccumulator.fromJSON(JSON.parse(snapshot));
      throw e;
    }
    acc.state.prompts = i + 1;
    atomicWrite(statePath, JSON.stringify({ version: 1, ...key, prompts, asi: acc.toJSON() } satisfies SavedState));
  }

  const roles = acc.classify(settings.draftersPerScale);
  const { perLayer, perHead } = acc.means();
  const round = (v: number) => Number(v.toFixed(6));
  const profile = createProfile({
    model: { name: cfg.name, depth: cfg.depth, numHeads: cfg.numHeads, headDim: cfg.embedDim / cfg.numHeads, schedule },
    settings,
    plan,
    roles,
    asi: perLayer.map((l) => l.map(round)),
    asiPerHead: perHead.map((l) => l.map((h) => h.map(round))),
    calibration: { prompts, seeds: prompts.map((_, i) => seeds[i] ?? i), cfg: req.cfg, resolution: req.resolution, aspectRatio: req.aspectRatio, completedPrompts: acc.state.prompts, asiDefinition: ASI_DEFINITION },
    origin: 'calibration',
  });
  atomicWrite(req.outPath, JSON.stringify(profile, null, 2));
  rmSync(statePath, { force: true });
  return { profile, profilePath: req.outPath };
}
