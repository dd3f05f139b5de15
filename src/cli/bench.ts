/**
 * `npm run bench` (bench/out/results.md): per provider, config, resolution and policy, the time of every scale and the KV
 * bytes held, measured side by side in one run, written as a Markdown table (and JSON beside it).
 * Configs: the random tiny model (real weights files, real text encoder and VAE) and Infinity-2B's shapes
 * with random weights and a few blocks ("2b-<depth>").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as os from 'node:os';
import { INFINITY_2B, INFINITY_TINY, type InfinityConfig } from '../model/config';
import { createPolicy } from '../scalekv/policies';
import { scaleSchedule } from '../model/schedule';
import { chooseProvider } from '../engine/runtime';
import { generateImages, type GenerationModel } from '../engine/generate';
import { syntheticModel } from '../engine/syntheticModel';
import { loadModel, tinyModelDir } from '../engine/loadModel';
import type { ExecutionProvider, PolicySpec, Precision, Progress } from '../shared/types';
import { resolvePolicySpec } from '../engine/policySpec';
import { syntheticProfile } from '../scalekv/syntheticProfile';
import { list, num, str, type ParsedArgs } from './args';
import { startGpuMemorySampler } from './gpuMemory';

/** where `npm run bench` writes (git-ignored); bench/results.md is a committed copy of one run */
const BENCH_OUT = 'bench/out/results.md';

interface Row {
  provider: string;
  config: string;
  resolution: string;
  policy: string;
  ratio: number | null;
  scaleMs: number[];
  totalMs: number;
  heldBytes: number;
  fullBytes: number;
  peakBytes: number;
  fullPeakBytes: number;
  precision: string;
  runner: string;
  /** the first run, which builds the scale graphs (later runs reuse them) */
  firstMs: number;
  /** device memory high-water mark while the row ran (nvidia-smi), or null without an NVIDIA GPU */
  peakGpuBytes: number | null;
  /** the same per scale, for the row's best run (the first reading after a scale's end still counts
   *  towards it: nvidia-smi reports with a delay of up to one sampling interval) */
  scalePeakGpuBytes: number[] | null;
  /** device memory in use when the row started: what earlier rows (and the weights, once uploaded) left */
  gpuBytesBefore: number | null;
  date: string;
  gpu: string | null;
}

function configFor(name: string): InfinityConfig {
  if (name === 'tiny') return INFINITY_TINY;
  const m = /^2b-(\d+)$/.exec(name);
  if (m) return { ...INFINITY_2B, name: `infinity-2b-shapes-${m[1]}-blocks`, depth: Number(m[1]) };
  throw new Error(`Unknown bench config '${name}' (use tiny or 2b-<blocks>).`);
}

export async function runBench(a: ParsedArgs, ctx: { onProgress(p: Progress): void; signal: AbortSignal }): Promise<void> {
  // an untracked folder unless told otherwise: a benchmark run must not rewrite the committed tables
  const out = str(a, 'out', BENCH_OUT)!;
  const providers = (list(a, 'provider').length ? list(a, 'provider') : ['cpu']) as ExecutionProvider[];
  const configs = list(a, 'config').length ? list(a, 'config') : ['tiny'];
  const resolutions = list(a, 'resolution').length ? list(a, 'resolution') : ['0.25M', '1M'];
  const policies: PolicySpec[] = (list(a, 'policy').length ? list(a, 'policy') : ['full', 'scalekv']).flatMap((p): PolicySpec[] =>
    p === 'full'
      ? [{ name: 'full' }]
      : (list(a, 'ratio').length ? list(a, 'ratio').map(Number) : [0.1]).map((ratio) => ({ name: p as PolicySpec['name'], ratio })),
  );
  const repeats = num(a, 'repeats', 2);
  const precisions = (list(a, 'precision').length ? list(a, 'precision') : ['auto']) as Precision[];
  const runnerArg = (str(a, 'runner', 'auto') ?? 'auto') as 'auto' | 'fused' | 'layerwise';
  const sampler = startGpuMemorySampler();
  const rows: Row[] = [];
  const failures: string[] = [];
  for (const p of providers) {
    const info = await chooseProvider(p);
    if (info.used !== p) {
      process.stderr.write(`skipping ${p}: ${info.reason}\n`);
      continue;
    }
    for (const c of configs) {
      const cfg = configFor(c);
      const model: GenerationModel & { release(): Promise<void> } = c === 'tiny' ? await tinyModel(p, ctx) : await syntheticModel(cfg, p);
      try {
        for (const res of resolutions) {
          const schedule = scaleSchedule(1, res);
          for (const precision of precisions)
            for (const pol0 of policies) {
              const pol = withProfile(pol0, model.cfg, schedule, (model as { defaultProfiles?: string[] }).defaultProfiles ?? []);
              let best: Row | null = null;
              let firstMs = 0;
              const gpuBytesBefore = sampler ? sampler.current() : null;
              sampler?.reset();
              try {
                // the first run builds the scale's graphs and grows the allocator: reported apart
                let bestEnds: number[] = [];
                // SCALEKV_BENCH_TIMELINE=FILE: every reading and progress event of the row, for memory forensics.
                // A reading's time is when the event loop took it: during a session run they queue up, so
                // their order holds but not their spacing
                const timeline = process.env.SCALEKV_BENCH_TIMELINE;
                const marks: { t: number; what: string }[] | null = timeline ? [{ t: performance.now(), what: 'row' }] : null;
                for (let r = 0; r < repeats; r++) {
                  marks?.push({ t: performance.now(), what: `run ${r + 1}` });
                  if (sampler && r > 0)
                    process.stderr.write(`  run ${r + 1}: GPU memory at the start ${(sampler.current() / 2 ** 30).toFixed(2)} GiB\n`);
                  const t0 = performance.now();
                  const ends: number[] = [];
                  const g = await generateImages(model, {
                    ...opts(),
                    policy: createPolicy(pol, meta(model.cfg, schedule)),
                    resolution: res,
                    signal: ctx.signal,
                    precision,
                    runner: runnerArg,
                    onScaleCodes: () => void ends.push(performance.now()),
                    onProgress: marks ? (p: Progress) => void marks.push({ t: performance.now(), what: p.message }) : undefined,
                  });
                  const ms = performance.now() - t0;
                  if (r === 0) firstMs = ms;
                  const row: Row = {
                    provider: p,
                    config: model.cfg.name,
                    resolution: `${res} (${g.width}x${g.height})`,
                    policy: pol.name,
                    ratio: pol.ratio ?? null,
                    scaleMs: g.timings.map((t) => t.ms),
                    totalMs: ms,
                    heldBytes: g.kv.finalHeldBytes,
                    fullBytes: g.kv.finalFullBytes,
                    peakBytes: g.kv.peakBytes,
                    fullPeakBytes: g.kv.fullPeakBytes,
                    precision: g.precision,
                    runner: g.runner,
                    firstMs,
                    peakGpuBytes: null,
                    scalePeakGpuBytes: null,
                    gpuBytesBefore,
                    date: new Date().toISOString().slice(0, 10),
                    gpu: sampler?.gpu ?? null,
                  };
                  if (!best || row.totalMs < best.totalMs) {
                    best = row;
                    // the last scale ends without new codes: its end is its start plus its time
                    bestEnds = [...ends, (ends.at(-1) ?? t0) + row.scaleMs[row.scaleMs.length - 1]];
                  }
                }
                if (sampler) {
                  await new Promise((r) => setTimeout(r, 150)); // the sampler's last reading
                  best!.peakGpuBytes = sampler.peak();
                  const lag = 60;
                  best!.scalePeakGpuBytes = bestEnds.map((end, k) => sampler.peakBetween(end - best!.scaleMs[k], end + lag));
                  if (timeline) writeFileSync(`${timeline}.${rows.length}.json`, JSON.stringify({ readings: sampler.readings(), marks }));
                }
              } catch (e) {
                // one configuration failing (e.g. out of GPU memory) must not lose the others' rows
                process.stderr.write(`${p} ${model.cfg.name} ${res} ${pol.name}: ${(e as Error).message.split('\n')[0]}\n`);
                failures.push(
                  `${p} / ${model.cfg.name} / ${res} / ${pol.name}${pol.ratio ? ' ' + pol.ratio : ''}: ${(e as Error).message.split('\n')[0]}`,
                );
                continue;
              }
              rows.push(best!);
              // partial results survive a crash of a later configuration
              mkdirSync(dirname(out), { recursive: true });
              writeFileSync(out.replace(/\.md$/, '') + '.partial.json', JSON.stringify(rows, null, 1));
              process.stderr.write(
                `${p} ${model.cfg.name} ${res} ${pol.name}${pol.ratio ? ' ' + pol.ratio : ''} ${best!.precision} ${best!.runner}: ${best!.totalMs.toFixed(0)} ms (first ${firstMs.toFixed(0)} ms)` +
                  `${best!.peakGpuBytes ? `, GPU peak ${(best!.peakGpuBytes / 2 ** 30).toFixed(2)} GiB (${((gpuBytesBefore ?? 0) / 2 ** 30).toFixed(2)} at the start)` : ''}\n`,
              );
            }
        }
      } finally {
        await model.release();
        if (sampler) {
          await new Promise((r) => setTimeout(r, 300));
          process.stderr.write(`${p} ${model.cfg.name}: GPU memory after release ${(sampler.current() / 2 ** 30).toFixed(2)} GiB\n`);
        }
      }
    }
  }
  sampler?.stop();
  mkdirSync(dirname(out), { recursive: true });
  const text = table(rows) + (failures.length ? `\nFailed:\n\n${failures.map((f) => `- ${f}`).join('\n')}\n` : '');
  writeFileSync(out, text);
  writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify({ machine: machine(), rows, failures }, null, 2));
  process.stdout.write(text);
}

function opts() {
  return {
    prompts: ['a lighthouse on a cliff at dusk'],
    seed: 1,
    aspectRatio: 1,
    cfg: 3,
    tau: 1,
    topK: 900,
    topP: 0.97,
    queryMode: 'code' as const,
    recordRetention: false,
  };
}

function meta(cfg: InfinityConfig, schedule: ReturnType<typeof scaleSchedule>) {
  return { depth: cfg.depth, numHeads: cfg.numHeads, headDim: cfg.embedDim / cfg.numHeads, schedule };
}

/** scalekv needs a classification: the model's calibrated profile, or for random-weight shapes a
 *  synthetic one (time and memory do not depend on which layers draft, only on the budgets) */
function withProfile(
  p: PolicySpec,
  cfg: InfinityConfig,
  schedule: ReturnType<typeof scaleSchedule>,
  defaultProfiles: string[],
): PolicySpec {
  if (p.name !== 'scalekv') return p;
  const ref = { name: cfg.name, depth: cfg.depth, numHeads: cfg.numHeads, headDim: cfg.embedDim / cfg.numHeads, schedule };
  try {
    const r = resolvePolicySpec(p, ref, defaultProfiles);
    if (r.profile) return r;
  } catch {
    /* no calibrated profile for these shapes */
  }
  return { ...p, profile: syntheticProfile(ref, p.ratio ?? 0.1) };
}

async function tinyModel(p: ExecutionProvider, ctx: { onProgress(p: Progress): void; signal: AbortSignal }) {
  // the random tiny model (media/models/tiny-infinity), not the trained default: the bench's 'tiny' config
  const m = await loadModel(tinyModelDir(), p, ctx);
  return Object.assign(m.generation, { release: () => m.release(), defaultProfiles: m.defaultProfiles });
}

function machine(): string {
  return `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}

function table(rows: Row[]): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  const lines = [
    `# ScaleKV engine benchmark`,
    '',
    `Machine: ${machine()}${rows[0]?.gpu ? `, ${rows[0].gpu}` : ''}. Date: ${new Date().toISOString().slice(0, 10)}. Batch 1 with CFG (2 rows). KV bytes in the precision the cache is held in.`,
    'Ratios compare rows of the same provider, config, resolution and precision measured in this one run. Time: the best of the runs after the first, which builds the graphs (shown apart).',
    '',
    '| provider | config | resolution | precision | runner | policy | ratio | total ms | first run ms | time / full | KV held MiB | held / full | KV peak MiB | GPU peak GiB | per-scale ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const full = rows.find(
      (x) =>
        x.provider === r.provider &&
        x.config === r.config &&
        x.resolution === r.resolution &&
        x.precision === r.precision &&
        x.policy === 'full',
    );
    const gib = r.peakGpuBytes === null ? '-' : (r.peakGpuBytes / 2 ** 30).toFixed(2);
    lines.push(
      `| ${r.provider} | ${r.config} | ${r.resolution} | ${r.precision} | ${r.runner} | ${r.policy} | ${r.ratio ?? '-'} | ${r.totalMs.toFixed(0)} | ${r.firstMs.toFixed(0)} | ${full ? (r.totalMs / full.totalMs).toFixed(2) : '-'} | ${mib(r.heldBytes)} | ${(r.heldBytes / r.fullBytes).toFixed(3)} | ${mib(r.peakBytes)} | ${gib} | ${r.scaleMs.map((m) => m.toFixed(1)).join(' / ')} |`,
    );
  }
  return lines.join('\n') + '\n';
}
