/**
 * `scalekv export-case`: runs the real transformer graphs (random weights of any config, e.g.
 * Infinity-2B's shapes with a few blocks) on a provider with teacher-forced bits, and writes what a
 * PyTorch re-implementation needs to check it and time itself on the same GPU
 * (bench/torch_infinity.py): weights.safetensors, text/mask, the codes fed to each scale, the
 * engine's logits of every scale and its per-scale times.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../checkpoint/safetensors';
import { INFINITY_2B, INFINITY_TINY, type InfinityConfig } from '../model/config';
import { cumulativeTokens, scaleSchedule } from '../model/schedule';
import { makeTinyInfinityWeights } from '../model/tiny/infinityTiny';
import { gaussian, uniformNoise } from '../model/weights';
import { generateImages } from '../engine/generate';
import { InfinitySessions } from '../engine/infinitySessions';
import { chooseProvider } from '../engine/runtime';
import { createPolicy } from '../scalekv/policies';
import type { StepPrecision } from '../../kernels/graphs/stepWeights';
import { fusedWeightCache } from '../engine/fusedRunner';
import type { Precision, ProviderSetting } from '../shared/types';
import { num, str, type ParsedArgs } from './args';

export async function exportCase(a: ParsedArgs): Promise<string> {
  const name = str(a, 'config', 'tiny')!;
  const m = /^2b-(\d+)$/.exec(name);
  const cfg: InfinityConfig = m ? { ...INFINITY_2B, name: `infinity-2b-shapes-${m[1]}-blocks`, depth: Number(m[1]) } : INFINITY_TINY;
  const out = str(a, 'out', 'case')!;
  mkdirSync(out, { recursive: true });
  const provider = await chooseProvider((str(a, 'provider', 'auto') as ProviderSetting) ?? 'auto');
  const resolution = str(a, 'resolution', '0.25M')!;
  const schedule = scaleSchedule(1, resolution);
  const ws = makeTinyInfinityWeights(cfg, 99, cfg.depth % 2 === 0 ? 2 : 1, cfg.embedDim >= 1024 ? uniformNoise : gaussian);
  writeSafetensors(
    join(out, 'weights.safetensors'),
    ws.names().map((n) => ({ name: n, dtype: 'float32', shape: ws.shape(n), data: ws.get(n) })),
  );
  const sessions = await InfinitySessions.create(cfg, ws, provider.used);
  const T = 24;
  const text = gaussian(T * cfg.textChannels, 0.3, 7);
  const d = cfg.codebookDim;
  const forced = schedule.map((s, si) => {
    const g = gaussian(s.h * s.w * d, 1, 1000 + si);
    return Uint8Array.from(g, (v) => (v > 0 ? 1 : 0));
  });
  const logits: Float32Array[] = [];
  const codes: Float32Array[] = [];
  const fused = fusedWeightCache(cfg, ws, provider.used);
  const model = {
    cfg,
    sessions,
    fused: (p: StepPrecision, signal?: AbortSignal) => fused.get(p, signal),
    cfgUncond: ws.get('cfg_uncond'),
    encodeText: async () => ({ features: text, lens: [T], maxLen: T }),
    decode: async (z: Float32Array) => z,
  };
  const runs = Math.max(1, num(a, 'repeats', 3));
  let best: number[] | null = null;
  let lastPrecision = '';
  let lastRunner = '';
  for (let r = 0; r < runs; r++) {
    logits.length = 0;
    const res = await generateImages(model, {
      prompts: ['case'],
      seed: 0,
      aspectRatio: 1,
      resolution,
      cfg: 3,
      tau: 1,
      topK: 0,
      topP: 0,
      policy: createPolicy({ name: 'full' }, { depth: cfg.depth, numHeads: cfg.numHeads, headDim: cfg.embedDim / cfg.numHeads, schedule }),
      queryMode: 'code',
      recordRetention: false,
      forcedBits: forced,
      precision: (str(a, 'precision', 'auto') as Precision) ?? 'auto',
      runner: (str(a, 'runner', 'auto') as 'auto' | 'fused' | 'layerwise') ?? 'auto',
      onLogits: (si, l) => (logits[si] = l.slice()),
      onScaleCodes: (si, c) => (codes[si] = c.slice()),
    });
    lastPrecision = res.precision;
    lastRunner = res.runner;
    const ms = res.timings.map((t) => t.ms);
    if (!best || ms.reduce((p, q) => p + q) < best.reduce((p, q) => p + q)) best = ms;
  }
  await fused.release();
  await sessions.release();
  const rows = 2;
  const feats = new Float32Array(rows * T * cfg.textChannels);
  feats.set(text, 0);
  feats.set(ws.get('cfg_uncond').subarray(0, T * cfg.textChannels), T * cfg.textChannels);
  writeFileSync(join(out, 'text.f32'), feats);
  writeFileSync(join(out, 'mask.f32'), new Float32Array(rows * T).fill(1));
  codes.forEach((c, si) => c && writeFileSync(join(out, `codes${si}.f32`), c));
  const all = new Float32Array(logits.reduce((p, l) => p + l.length, 0));
  let o = 0;
  for (const l of logits) {
    all.set(l, o);
    o += l.length;
  }
  writeFileSync(join(out, 'logits.f32'), all);
  writeFileSync(
    join(out, 'case.json'),
    JSON.stringify(
      {
        config: cfg,
        rows,
        textLen: T,
        schedule: schedule.map((s) => [s.h, s.w]),
        finalGrid: [scaleSchedule(1, '1M').at(-1)!.h, scaleSchedule(1, '1M').at(-1)!.w],
        tokens: cumulativeTokens(schedule).at(-1),
        provider: provider.used,
        precision: lastPrecision,
        runner: lastRunner,
        engineMs: best,
      },
      null,
      1,
    ),
  );
  return out;
}
