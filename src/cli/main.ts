#!/usr/bin/env node
/**
 * `scalekv` command line: the same engine the extension runs, headless. Each command's flags are
 * declared in commandSpecs.ts (`scalekv <command> --help` prints them); the parser refuses anything
 * else before any work starts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createEngine } from '../engine/engine';
import type { JobContext } from '../engine/api';
import { parseAspect } from '../model/schedule';
import { DEFAULTS } from '../shared/defaults';
import { toErrorInfo, ScaleKVError } from '../shared/errors';
import { baseRequest, calibrateRequest, generateRequest, policySpec, type BaseRequest } from '../shared/requests';
import type { AsiMode, BudgetRule, PolicyName, PolicySpec, Precision, ProviderSetting, WindowQueryMode } from '../shared/types';
import { flag, formatHelp, formatOverview, has, list, num, parseArgs, str, type ParsedArgs } from './args';
import { checkArgvLength } from './argvLimit';
import { runBench } from './bench';
import { commandSpec, COMMANDS } from './commandSpecs';
import { exportBudget, importBudget, makeTiny, tinyIsBuilt } from './commands';
import { checkPrompts, readPromptList } from './checkPrompts';
import { evaluateRequestFromArgs } from './evaluateArgs';
import { mergeCommand } from './mergeCommand';
import { datasetCommand, heldOutCommand } from './dataset';
import { exportCase } from './exportCase';
import { encodeText, exportModelCase, makeTextEncoder } from './trainTools';
import { comparePolicyNames, generatePolicyName } from './policyChoice';
import { progressPrinter } from './progressPrinter';
import { calibrateShipped } from './calibrateShipped';
import { promptsFrom } from './prompts';

/** in the default model's vocabulary (src/dataset/README.md) */
export const EXAMPLE_PROMPT = 'a large red circle at the top left on a blue background';

const path = (a: ParsedArgs, name: string) => (str(a, name) ? resolve(str(a, name)!) : undefined);

function required(a: ParsedArgs, name: string): string {
  const v = str(a, name);
  if (v === undefined) throw new ScaleKVError('E_USAGE', `${a.command} needs --${name}. See scalekv ${a.command} --help.`);
  return resolve(v);
}

function policyFrom(a: ParsedArgs, name: PolicyName): PolicySpec {
  return policySpec(name, {
    ratio: num(a, 'ratio', DEFAULTS.ratio),
    profilePath: path(a, 'profile'),
    queryMode: str(a, 'query-mode', DEFAULTS.queryMode) as WindowQueryMode,
    windowSize: num(a, 'window', DEFAULTS.windowSize),
    poolingKernel: num(a, 'kernel', DEFAULTS.poolingKernel),
    budgetRule: str(a, 'budget-rule') as BudgetRule | undefined,
  });
}

function baseFrom(a: ParsedArgs, prompts: string[]): BaseRequest {
  return baseRequest({
    modelPath: path(a, 'model'),
    prompts,
    seed: num(a, 'seed', DEFAULTS.seed),
    aspectRatio: parseAspect(str(a, 'aspect', DEFAULTS.aspect)!),
    resolution: str(a, 'resolution', DEFAULTS.resolution),
    cfg: num(a, 'cfg', DEFAULTS.cfg),
    tau: num(a, 'tau', DEFAULTS.tau),
    topK: num(a, 'top-k', DEFAULTS.topK),
    topP: num(a, 'top-p', DEFAULTS.topP),
    provider: str(a, 'provider', DEFAULTS.provider) as ProviderSetting,
    precision: str(a, 'precision', DEFAULTS.precision) as Precision,
  });
}

function promptsOrExample(a: ParsedArgs): string[] {
  const prompts = promptsFrom(a);
  if (prompts.length) return prompts;
  process.stderr.write(`no --prompt or --prompts-file: drawing the example prompt "${EXAMPLE_PROMPT}"\n`);
  return [EXAMPLE_PROMPT];
}

async function withEngine<T>(job: (engine: ReturnType<typeof createEngine>) => Promise<T>): Promise<T> {
  const engine = createEngine();
  try {
    return await job(engine);
  } finally {
    await engine.dispose();
  }
}

async function run(a: ParsedArgs, ctx: JobContext): Promise<number> {
  switch (a.command) {
    case 'generate': {
      // everything about the request is checked before the engine starts
      const policy = policyFrom(a, generatePolicyName(a));
      const request = generateRequest({ ...baseFrom(a, promptsOrExample(a)), policy, outDir: resolve(str(a, 'out', 'runs')!) });
      const { run, runPath } = await withEngine((e) => e.generate(request, ctx));
      for (const n of run.notices ?? []) process.stderr.write(`notice: ${n.message}\n`);
      const ratio = run.kv.finalHeldBytes / run.kv.finalFullBytes;
      console.log(
        `${run.images.length} image(s) ${run.images[0].width}x${run.images[0].height} with ${run.request.policy.name} ` +
          `on ${run.provider.used} (${run.provider.reason})`,
      );
      console.log(
        `KV held after the last scale: ${(run.kv.finalHeldBytes / 2 ** 20).toFixed(2)} MiB = ${(ratio * 100).toFixed(1)}% ` +
          `of the full cache; ${run.totalMs.toFixed(0)} ms`,
      );
      console.log(runPath);
      return 0;
    }
    case 'calibrate': {
      const b = baseFrom(a, promptsFrom(a));
      const request = calibrateRequest({
        ...b,
        ratio: num(a, 'ratio', DEFAULTS.ratio),
        outPath: resolve(str(a, 'out', 'profile.json')!),
        draftersPerScale: has(a, 'drafters') ? num(a, 'drafters', 0) : undefined,
        windowSize: num(a, 'window', DEFAULTS.windowSize),
        poolingKernel: num(a, 'kernel', DEFAULTS.poolingKernel),
        statePath: path(a, 'state'),
        keepState: str(a, 'keep-state') === 'true',
        asiMode: str(a, 'asi-mode') as AsiMode | undefined,
        asiTopK: has(a, 'asi-top-k') ? num(a, 'asi-top-k', DEFAULTS.asiTopK) : undefined,
        budgetRule: str(a, 'budget-rule') as BudgetRule | undefined,
        drafterPairs: has(a, 'drafter-pairs') ? num(a, 'drafter-pairs', 0) : undefined,
      });
      const { profilePath, profile } = await withEngine((e) => e.calibrate(request, ctx));
      console.log(
        `profile for ${profile.model.name}: ${profile.scales.filter((s) => s.compressed).length} compressed scales -> ${profilePath}`,
      );
      return 0;
    }
    case 'calibrate-shipped': {
      const dir = resolve(required(a, 'model'));
      const provider = str(a, 'provider', DEFAULTS.provider) as ProviderSetting;
      const r = await withEngine((e) => calibrateShipped(e, dir, promptsFrom(a), provider, ctx));
      console.log(`${r.files.join(', ')} in ${dir} (transformer sha256 ${r.weightsSha256.slice(0, 12)}...)`);
      return 0;
    }
    case 'compare': {
      const policies = comparePolicyNames(a).map((n) => policyFrom(a, n));
      const base = baseFrom(a, promptsOrExample(a));
      const r = await withEngine((e) => e.compare({ base, policies, outDir: resolve(str(a, 'out', 'runs')!) }, ctx));
      console.log(readFileSync(r.tablePath, 'utf8'));
      console.log(r.jsonPath);
      return 0;
    }
    case 'evaluate': {
      // every flag and the prompts file are checked before the engine starts
      const req = evaluateRequestFromArgs(a);
      // one line per evaluation step (each run, each calibration): the runs' own per-scale lines would be thousands
      const onProgress = (p: { stage: string; fraction: number; message: string }) => {
        if (p.stage === 'evaluate') process.stderr.write(`[${(p.fraction * 100).toFixed(0).padStart(3)}%] ${p.message}\n`);
      };
      const r = await withEngine((e) =>
        e.evaluate(req, { ...ctx, onProgress }).catch((err) => {
          if (toErrorInfo(err).code === 'E_CANCELLED') {
            process.stderr.write(`Finished rows are saved in ${req.outDir}; the same command resumes the evaluation.\n`);
          }
          throw err;
        }),
      );
      console.log(readFileSync(r.tablePath, 'utf8'));
      console.log(`${r.computed} row measurement(s) run, ${r.resumed} resumed`);
      console.log(r.jsonPath);
      return 0;
    }
    case 'merge-leaderboards': {
      const r = mergeCommand(list(a, 'part'), required(a, 'out'), flag(a, 'check'), flag(a, 'complete-only'));
      for (const d of r.skipped) process.stderr.write(`no leaderboard.json yet in ${d}; skipped\n`);
      console.log(readFileSync(r.tablePath, 'utf8'));
      if (r.checkPath) {
        console.log(readFileSync(r.checkPath, 'utf8'));
        console.log(`${r.checked} image(s) checked now, ${r.unchecked} without an image or a checkable prompt`);
      }
      console.log(`${r.merged} part(s) merged -> ${r.jsonPath}`);
      return 0;
    }
    case 'bench':
      await runBench(a, ctx);
      return 0;
    case 'export-case':
      console.log(str(a, 'model') ? await exportModelCase(a) : await exportCase(a));
      return 0;
    case 'make-text-encoder':
      console.log(makeTextEncoder(a));
      return 0;
    case 'encode-text':
      console.log(await encodeText(a));
      return 0;
    case 'dataset':
      console.log(await datasetCommand(a));
      return 0;
    case 'heldout':
      console.log(heldOutCommand(a));
      return 0;
    case 'check-prompts': {
      const all = readPromptList(required(a, 'prompts-file'));
      const limit = str(a, 'limit') ? num(a, 'limit', all.length) : all.length;
      if (!Number.isInteger(limit) || limit < 1) throw new ScaleKVError('E_USAGE', `--limit must be a positive integer, got ${limit}.`);
      const b = baseFrom(a, all.slice(0, limit));
      const { report, mdPath, jsonPath } = await checkPrompts(
        {
          prompts: b.prompts,
          out: required(a, 'out'),
          modelPath: b.modelPath,
          policy: policyFrom(a, str(a, 'policy', 'full') as PolicyName),
          resolution: str(a, 'resolution', '0.25M')!,
          seed: b.seed,
          provider: b.provider,
          batch: num(a, 'batch', 4),
          sampling: { cfg: b.cfg, tau: b.tau, topK: b.topK, topP: b.topP },
        },
        ctx,
      );
      const s = report.shares;
      const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
      console.log(
        `${report.count} prompts: colour ${pct(s.colour)}, colour+position ${pct(s.colourPosition)}, all three ${pct(s.colourPositionShape)}`,
      );
      console.log(mdPath);
      console.log(jsonPath);
      return 0;
    }
    case 'make-tiny': {
      const out = required(a, 'out');
      // the build runs this every time; the model is deterministic, so an existing one is kept
      const calibrate = flag(a, 'calibrate');
      if (flag(a, 'if-missing') && tinyIsBuilt(out, calibrate)) {
        console.log(`${out} (already built)`);
        return 0;
      }
      await makeTiny(out, calibrate);
      console.log(out);
      return 0;
    }
    case 'import-budget':
      console.log(importBudget(required(a, 'in'), required(a, 'out'), a));
      return 0;
    case 'export-budget':
      console.log(exportBudget(required(a, 'in'), required(a, 'out')));
      return 0;
    case 'describe': {
      const r = await withEngine((e) =>
        e.describeModel({ modelPath: path(a, 'model'), provider: str(a, 'provider', DEFAULTS.provider) as ProviderSetting }),
      );
      console.log(JSON.stringify(r, null, 2));
      return 0;
    }
  }
  throw new ScaleKVError('E_INTERNAL', `No handler for the command ${a.command}.`);
}

function help(a: ParsedArgs): string {
  const topic = a.command === 'help' ? str(a, 'topic') : a.command;
  const spec = topic ? commandSpec(topic) : undefined;
  if (topic && !spec) throw new ScaleKVError('E_USAGE', `No command '${topic}'. Run scalekv --help for the list.`);
  return spec ? formatHelp(spec) : formatOverview(COMMANDS);
}

async function main(argv: string[]): Promise<number> {
  checkArgvLength([...process.argv, ...process.execArgv]);
  const a = parseArgs(argv, COMMANDS);
  if (a.help) {
    process.stdout.write(help(a));
    return 0;
  }
  const ac = new AbortController();
  process.on('SIGINT', () => {
    process.stderr.write('\ncancelling...\n');
    ac.abort();
  });
  const printer = progressPrinter({ write: (s) => process.stderr.write(s), tty: !!process.stderr.isTTY });
  const ctx: JobContext = {
    onProgress: printer,
    signal: ac.signal,
    log: (_l, m) => {
      printer.done();
      process.stderr.write(m + '\n');
    },
  };
  try {
    return await run(a, ctx);
  } finally {
    printer.done();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const info = toErrorInfo(e);
    process.stderr.write(`error ${info.code}: ${info.message}\n`);
    if (process.env.SCALEKV_DEBUG && info.detail) process.stderr.write(info.detail + '\n');
    process.exit(info.code === 'E_USAGE' ? 2 : 1);
  },
);
