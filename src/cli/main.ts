#!/usr/bin/env node
/**
 * `scalekv` command line: the same engine the extension runs, headless.
 *   scalekv generate  --prompt "..." [--prompt ...] --out runs/ [--model DIR] [--policy scalekv --ratio 0.1 | --profile P]
 *   scalekv calibrate --out profile.json [--prompts-file F | --prompt ...] [--ratio 0.1]
 *   scalekv compare   --prompt "..." --out runs/cmp --policy scalekv --policy snapkv ... [--ratio 0.1]
 *   scalekv bench     --out bench/results.md
 *   scalekv make-tiny --out media/models/tiny-infinity
 *   scalekv import-budget --in official.json --out profile.json [--model DIR]
 *   scalekv export-budget --in profile.json --out official.json
 *   scalekv describe  [--model DIR] [--provider auto]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createEngine } from '../engine/engine';
import { parseAspect } from '../model/schedule';
import { toErrorInfo } from '../shared/errors';
import type { GenerateRequest, PolicyName, PolicySpec, Progress, ProviderSetting } from '../shared/types';
import { list, num, parseArgs, str, type ParsedArgs } from './args';
import { runBench } from './bench';
import { exportBudget, importBudget, makeTiny, readPrompts, tinyIsBuilt } from './commands';
import { exportCase } from './exportCase';

const HELP = `scalekv <command> [flags]

Commands:
  generate       generate images (writes PNGs and run.json under --out/<run id>/)
  calibrate      calibrate ScaleKV on prompts and write a profile (JSON)
  compare        run the full cache and each --policy on the same prompts and seeds; writes compare.json and compare.md
  bench          time and size the engine per provider, config and resolution; writes a Markdown table
  make-tiny      write the embedded tiny Infinity-architecture checkpoint (.pth + safetensors)
  import-budget  validate an official ScaleKV budget table and turn it into a profile
  export-budget  write a profile as an official budget table
  describe       load a model and print its configuration and execution provider
  export-case    write a teacher-forced case (weights, inputs, logits, times) for bench/torch_infinity.py

Common flags:
  --model DIR|FILE      official-format weights (default: the embedded tiny model)
  --provider P          auto | cuda | webgpu | cpu (default auto)
  --prompt TEXT         repeatable
  --seed N              (default 0)
  --resolution R        0.06M | 0.25M | 0.60M | 1M (default 1M)
  --aspect A            width:height, e.g. 1:1, 16:9 (default 1:1)
  --cfg X --tau X --top-k N --top-p X
  --policy NAME         full | scalekv | snapkv | h2o | local | amskv
  --ratio X             KV budget as a fraction of the full cache (default 0.1)
  --profile FILE        a ScaleKV profile or an official budget table (for --policy scalekv)
  --query-mode M        code (default, as the official code) | paper
  --out PATH
`;

function progressPrinter(): (p: Progress) => void {
  let last = '';
  return (p) => {
    const line = `[${(p.fraction * 100).toFixed(0).padStart(3)}%] ${p.message}`;
    if (line !== last && (p.stage !== 'scale' || /layer 1\//.test(p.message))) process.stderr.write(line + '\n');
    last = line;
  };
}

function policyFrom(a: ParsedArgs, name: string): PolicySpec {
  return {
    name: name as PolicyName,
    ratio: num(a, 'ratio', 0.1),
    profilePath: str(a, 'profile') ? resolve(str(a, 'profile')!) : undefined,
    queryMode: (str(a, 'query-mode', 'code') as 'code' | 'paper') ?? 'code',
    windowSize: num(a, 'window', 16),
    poolingKernel: num(a, 'kernel', 5),
  };
}

function baseRequest(a: ParsedArgs): Omit<GenerateRequest, 'policy' | 'outDir'> {
  const prompts = list(a, 'prompt');
  return {
    modelPath: str(a, 'model') ? resolve(str(a, 'model')!) : undefined,
    prompts: prompts.length ? prompts : ['a red apple on a wooden table'],
    seed: num(a, 'seed', 0),
    aspectRatio: parseAspect(str(a, 'aspect', '1:1')!),
    resolution: str(a, 'resolution', '1M')!,
    cfg: num(a, 'cfg', 3),
    tau: num(a, 'tau', 1),
    topK: num(a, 'top-k', 900),
    topP: num(a, 'top-p', 0.97),
    provider: str(a, 'provider', 'auto') as ProviderSetting,
  };
}

async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const ac = new AbortController();
  process.on('SIGINT', () => {
    process.stderr.write('cancelling...\n');
    ac.abort();
  });
  const ctx = { onProgress: progressPrinter(), signal: ac.signal, log: (_l: string, m: string) => process.stderr.write(m + '\n') };
  const out = resolve(str(a, 'out', 'runs')!);
  switch (a.command) {
    case 'generate': {
      const engine = createEngine();
      try {
        const { run, runPath } = await engine.generate({ ...baseRequest(a), policy: policyFrom(a, str(a, 'policy', 'full')!), outDir: out, recordRetention: true }, ctx);
        const ratio = run.kv.finalHeldBytes / run.kv.finalFullBytes;
        console.log(`${run.images.length} image(s) ${run.images[0].width}x${run.images[0].height} on ${run.provider.used} (${run.provider.reason})`);
        console.log(`KV held after the last scale: ${(run.kv.finalHeldBytes / 2 ** 20).toFixed(2)} MiB = ${(ratio * 100).toFixed(1)}% of the full cache; ${run.totalMs.toFixed(0)} ms`);
        console.log(runPath);
      } finally {
        await engine.dispose();
      }
      return 0;
    }
    case 'calibrate': {
      const engine = createEngine();
      try {
        const b = baseRequest(a);
        const prompts = str(a, 'prompts-file') ? readPrompts(resolve(str(a, 'prompts-file')!)) : list(a, 'prompt');
        const { profilePath, profile } = await engine.calibrate(
          {
            modelPath: b.modelPath,
            prompts,
            targetRatio: num(a, 'ratio', 0.1),
            aspectRatio: b.aspectRatio,
            resolution: b.resolution,
            cfg: b.cfg,
            provider: b.provider,
            outPath: str(a, 'out') ? out : resolve('profile.json'),
            draftersPerScale: str(a, 'drafters') ? num(a, 'drafters', 2) : undefined,
            statePath: str(a, 'state') ? resolve(str(a, 'state')!) : undefined,
          },
          ctx,
        );
        console.log(`profile for ${profile.model.name}: ${profile.scales.filter((s) => s.compressed).length} compressed scales -> ${profilePath}`);
      } finally {
        await engine.dispose();
      }
      return 0;
    }
    case 'compare': {
      const engine = createEngine();
      try {
        const names = list(a, 'policy');
        const r = await engine.compare({ base: baseRequest(a), policies: (names.length ? names : ['scalekv', 'snapkv', 'h2o', 'local', 'amskv']).map((n) => policyFrom(a, n)), outDir: out }, ctx);
        console.log(readFileSync(r.tablePath, 'utf8'));
        console.log(r.jsonPath);
      } finally {
        await engine.dispose();
      }
      return 0;
    }
    case 'bench':
      await runBench(a, ctx);
      return 0;
    case 'export-case':
      console.log(await exportCase(a));
      return 0;
    case 'make-tiny':
      // the build runs this every time; the model is deterministic, so an existing one is kept
      if (str(a, 'if-missing') && tinyIsBuilt(out)) {
        console.log(`${out} (already built)`);
        return 0;
      }
      await makeTiny(out);
      console.log(out);
      return 0;
    case 'import-budget':
      console.log(importBudget(resolve(str(a, 'in')!), out, a));
      return 0;
    case 'export-budget':
      console.log(exportBudget(resolve(str(a, 'in')!), out));
      return 0;
    case 'describe': {
      const engine = createEngine();
      try {
        const r = await engine.describeModel({ modelPath: baseRequest(a).modelPath, provider: str(a, 'provider', 'auto') as ProviderSetting });
        console.log(JSON.stringify(r, null, 2));
      } finally {
        await engine.dispose();
      }
      return 0;
    }
    default:
      console.log(HELP);
      return a.command === 'help' || a.command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const info = toErrorInfo(e);
    process.stderr.write(`error ${info.code}: ${info.message}\n`);
    if (process.env.SCALEKV_DEBUG && info.detail) process.stderr.write(info.detail + '\n');
    process.exit(1);
  },
);
