#!/usr/bin/env node
/**
 * The fidelity run of issue 12 part 5: every policy at every ratio, under the official and the legacy
 * budget rule, on the held-out prompts of the trained model, sharded over many single-threaded engine
 * processes on the CPU provider. Built for the GPU machine's 16 cores (see bench/fidelity.md):
 *
 *   node bench/fidelity_run.mjs --out "$OUT/fidelity" [--prompts 50] [--workers 15] [--deadline 520]
 *
 * 1. Calibration: one `scalekv calibrate` measures the calibration prompts once (--keep-state) and writes
 *    the profile for the first rule and ratio; the other rules and ratios reuse that measurement (no model
 *    run). Profile rows (scalekv, amskv, hack, heatkv) wait for it; the uniform-budget rows do not.
 * 2. Jobs: one `scalekv evaluate --progressive` per (rule, chunk of --chunk prompts, group): group
 *    "uniform" is snapkv, h2o, local; group "profile" is scalekv, amskv, hack, heatkv with the rule's
 *    calibrated profile per ratio (a profile set). A process pays the model load and graph building once
 *    per chunk, and its leaderboard grows after every prompt. Official-rule jobs come first, then legacy:
 *    if the deadline cuts the run, the legacy rule has fewer prompts.
 * 3. Every --merge-every seconds and after every job, what the parts have so far is merged
 *    (`scalekv merge-leaderboards --check`) into --out: leaderboard.json/.md, prompt-check.json/.md and
 *    progress.json, so a run cut off from outside still leaves its results. At --deadline seconds running
 *    jobs are stopped (their finished prompts count). The final merge keeps only the prompts measured in
 *    every row of their rule (--complete-only), so the rows of a rule average the same prompts; --out/all/
 *    holds every measurement.
 *
 * Nothing but summaries goes to --out (images stay in --work), in 8 files, the most a device call returns:
 * leaderboard.json/.md, prompt-check.json/.md, progress.json, profiles.json (every calibrated profile) and
 * all/leaderboard.json/.md (logs/ only when something failed).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');

const DEFAULTS = {
  out: process.env.OUT ? join(process.env.OUT, 'fidelity') : join(ROOT, 'bench', 'out', 'fidelity'),
  work: '/tmp/fidelity-work',
  model: join(ROOT, 'media', 'models', 'infinity-shapes'),
  heldout: join(ROOT, 'test', 'fixtures', 'dataset', 'heldout.json'),
  calibration: join(ROOT, 'tools', 'train', 'calibration-prompts.txt'),
  resolution: '0.25M',
  prompts: 50,
  'legacy-prompts': 50,
  workers: Math.max(1, cpus().length - 1),
  threads: 1,
  'cal-threads': 2,
  deadline: 520,
  chunk: 5,
  'merge-every': 30,
  ratios: '0.04,0.1,0.2',
  rules: 'official,legacy',
  seed: 0,
  done: '',
};
const GROUPS = { uniform: ['snapkv', 'h2o', 'local'], profile: ['scalekv', 'amskv', 'hack', 'heatkv'] };

function parseArgs(argv) {
  const o = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in DEFAULTS) || i + 1 >= argv.length) {
      console.error(`usage: fidelity_run.mjs ${Object.keys(DEFAULTS).map((f) => `[--${f} ${DEFAULTS[f]}]`).join(' ')}`);
      process.exit(2);
    }
    o[k] = argv[++i];
  }
  const numeric = ['prompts', 'legacy-prompts', 'workers', 'threads', 'cal-threads', 'deadline', 'seed', 'chunk', 'merge-every'];
  for (const k of numeric) o[k] = Number(o[k]);
  o.ratios = String(o.ratios).split(',').map(Number);
  o.rules = String(o.rules).split(',');
  for (const k of ['out', 'work', 'model', 'heldout', 'calibration']) o[k] = resolve(o[k]);
  if (o.done) o.done = resolve(o.done);
  return o;
}

const o = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
const log = (m) => console.log(`[${elapsed().toFixed(0).padStart(4)} s] ${m}`);

rmSync(o.work, { recursive: true, force: true });
mkdirSync(join(o.work, 'prompts'), { recursive: true });
mkdirSync(join(o.work, 'profiles'), { recursive: true });
mkdirSync(join(o.out, 'logs'), { recursive: true });

const heldout = JSON.parse(readFileSync(o.heldout, 'utf8')).prompts.map((p) => p.prompt);
const prompts = heldout.slice(0, o.prompts);

/**
 * --done F: the final leaderboard.json of an earlier call; the prompts it has for a rule are measured
 * there already, so this call skips them and the two calls' leaderboards merge without overlap
 */
const doneBefore = new Map(o.rules.map((r) => [r, new Set()]));
if (o.done) {
  const lb = JSON.parse(readFileSync(o.done, 'utf8'));
  const ruleOf = new Map(lb.rows.map((r) => [r.key, r.budgetRule ?? '-']));
  for (const c of lb.perPrompt) doneBefore.get(ruleOf.get(c.row))?.add(c.prompt);
}

const profilePath = (rule, ratio) => join(o.work, 'profiles', `${rule}-${ratio}.json`);
const common = ['--model', o.model, '--resolution', o.resolution, '--provider', 'cpu'];

/** one child process; resolves with its exit code, its output in logFile */
const running = new Set();
function runCli(args, threads, logFile) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, SCALEKV_CPU_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const chunks = [];
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    child.on('close', (code, signal) => {
      running.delete(child);
      writeFileSync(logFile, Buffer.concat(chunks));
      done(code ?? (signal ? 128 : 1));
    });
  });
}

// ---- calibration: measured once, every rule and ratio written from it ----------------------------
let calibrated = false;
let calibrationFailed = false;
const calibration = { started: elapsed(), profiles: [] };
const profiles = {};
async function calibrate() {
  const state = join(o.work, 'calibration.state.json');
  // only the rules that still have profile rows to measure
  for (const rule of o.rules.filter((r) => jobs.some((j) => j.rule === r && j.group === 'profile'))) {
    for (const ratio of o.ratios) {
      const t = Date.now();
      const args = ['calibrate', ...common, '--prompts-file', o.calibration, '--ratio', String(ratio), '--budget-rule', rule];
      args.push('--state', state, '--keep-state', '--out', profilePath(rule, ratio));
      const rc = await runCli(args, o['cal-threads'], join(o.work, `calibrate-${rule}-${ratio}.log`));
      calibration.profiles.push({ rule, ratio, rc, seconds: (Date.now() - t) / 1000 });
      log(`calibrated ${rule} ${ratio}: rc ${rc} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      if (rc !== 0) {
        calibrationFailed = true;
        copyFileSync(join(o.work, `calibrate-${rule}-${ratio}.log`), join(o.out, 'logs', `calibrate-${rule}-${ratio}.log`));
        return;
      }
      profiles[`${rule}-${ratio}`] = JSON.parse(readFileSync(profilePath(rule, ratio), 'utf8'));
    }
  }
  // one file: a device call returns at most 8 files
  writeFileSync(join(o.out, 'profiles.json'), JSON.stringify(profiles));
  calibration.seconds = elapsed() - calibration.started;
  calibrated = true;
}

// ---- the job queue ------------------------------------------------------------------------------
const jobs = [];
for (const rule of o.rules) {
  const n = rule === 'legacy' ? Math.min(o['legacy-prompts'], prompts.length) : prompts.length;
  const todo = prompts.slice(0, n).map((p, i) => (doneBefore.get(rule).has(p) ? -1 : i)).filter((i) => i >= 0);
  for (let k = 0; k < todo.length; k += o.chunk) {
    const ids = todo.slice(k, k + o.chunk);
    for (const group of Object.keys(GROUPS)) {
      const name = `${rule}-${ids[0]}-${group}`;
      jobs.push({ name, rule, ids, group, dir: join(o.work, 'jobs', name), state: 'todo' });
    }
  }
}

function jobArgs(j) {
  const file = join(o.work, 'prompts', `${j.rule}-${j.ids[0]}.txt`);
  writeFileSync(file, j.ids.map((i) => prompts[i]).join('\n') + '\n');
  const args = ['evaluate', ...common, '--prompts-file', file, '--seed', String(o.seed)];
  for (const p of GROUPS[j.group]) args.push('--policy', p);
  for (const r of o.ratios) args.push('--ratio', String(r));
  args.push('--budget-rule', j.rule, '--out', j.dir, '--keep-runs', '--progressive');
  if (j.group === 'profile') for (const r of o.ratios) args.push('--profile', profilePath(j.rule, r));
  return args;
}

/** the next job that may start now: profile jobs only once calibrated */
function nextJob() {
  if (elapsed() > o.deadline - 30) return null;
  return jobs.find((j) => j.state === 'todo' && (j.group === 'uniform' || calibrated)) ?? null;
}

// ---- merging ------------------------------------------------------------------------------------
const hasLeaderboard = (j) => existsSync(join(j.dir, 'leaderboard.json'));
/** prompts each job has finished (its progressive leaderboard's prompts) */
function finishedPrompts(j) {
  try {
    return JSON.parse(readFileSync(join(j.dir, 'leaderboard.json'), 'utf8')).prompts;
  } catch {
    return [];
  }
}
function completePrompts(rule) {
  const of = (g) => new Set(jobs.filter((j) => j.rule === rule && j.group === g).flatMap(finishedPrompts));
  const u = of('uniform');
  return [...of('profile')].filter((p) => u.has(p)).length;
}
function writeProgress(final) {
  const info = {
    final,
    elapsedSeconds: elapsed(),
    settings: { ...o, cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: totalmem() / 2 ** 30, node: process.version },
    calibration,
    completePrompts: Object.fromEntries(o.rules.map((r) => [r, completePrompts(r)])),
    jobs: jobs.map(({ name, rule, ids, group, state, started, seconds, rc }) => {
      return { name, rule, prompts: ids.length, group, state, started, seconds, rc };
    }),
  };
  info.jobs.forEach((x, k) => (x.finishedPrompts = finishedPrompts(jobs[k]).length));
  writeFileSync(join(o.out, 'progress.json'), JSON.stringify(info, null, 1));
}
let merging = null;
/** merges every part with a leaderboard so far into --out (final: only prompts every row of their rule measured) */
function merge(final = false) {
  if (merging) return merging;
  writeProgress(final);
  const parts = jobs.filter(hasLeaderboard).map((j) => j.dir);
  if (!parts.length) return Promise.resolve();
  const run = (out, extra, logName) => {
    const args = ['merge-leaderboards', '--out', out, ...extra];
    for (const p of parts) args.push('--part', p);
    return runCli(args, 1, join(o.work, logName)).then((rc) => {
      if (rc !== 0) {
        log(`merge into ${out} failed (rc ${rc}); see logs/${logName}`);
        copyFileSync(join(o.work, logName), join(o.out, 'logs', logName));
      }
    });
  };
  merging = (final
    ? run(join(o.out, 'all'), [], 'merge-all.log').then(() => run(o.out, ['--check', '--complete-only'], 'merge.log'))
    : run(o.out, ['--check'], 'merge.log')
  ).then(() => {
    merging = null;
  });
  return merging;
}

// ---- the run ------------------------------------------------------------------------------------
if (o.done) {
  const n = o.rules.map((r) => `${r} ${doneBefore.get(r).size}`).join(', ');
  log(`--done ${o.done}: ${n} prompt(s) measured there are skipped`);
}
log(`${prompts.length} prompts, rules ${o.rules.join('/')}, ratios ${o.ratios.join('/')}, ${jobs.length} jobs on ${o.workers} workers`);
const calDone = calibrate();
let slotsForJobs = o.workers - 1; // one worker calibrates first
calDone.then(() => {
  slotsForJobs = o.workers;
  if (calibrationFailed) log('calibration failed: profile jobs skipped');
});

async function worker(id) {
  for (;;) {
    if (elapsed() > o.deadline) return;
    if (id >= slotsForJobs) {
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    const j = nextJob();
    if (!j) {
      const waiting = jobs.some((x) => x.state === 'todo' && x.group === 'profile' && !calibrated && !calibrationFailed);
      if (!waiting || elapsed() > o.deadline - 30) return;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    j.state = 'running';
    j.started = elapsed();
    const logFile = join(o.work, `job-${j.name}.log`);
    const rc = await runCli(jobArgs(j), o.threads, logFile);
    j.rc = rc;
    j.seconds = elapsed() - j.started;
    j.state = rc === 0 ? 'done' : elapsed() > o.deadline ? 'stopped' : 'failed';
    if (j.state === 'failed') copyFileSync(logFile, join(o.out, 'logs', `job-${j.name}.log`));
    log(`${j.name} (${j.ids.length} prompts): ${j.state} in ${j.seconds.toFixed(1)} s, ${finishedPrompts(j).length} prompts finished`);
    merge();
  }
}

// progressive leaderboards grow while jobs run: merge what there is every --merge-every seconds
const ticker = setInterval(() => merge(), o['merge-every'] * 1000);
const stopAt = setTimeout(() => {
  log(`deadline (${o.deadline} s): stopping ${running.size} running process(es)`);
  for (const c of running) c.kill('SIGKILL');
}, o.deadline * 1000);

// profile jobs become runnable when calibration ends; jobs never run out while calibration is pending
await Promise.all([calDone, ...Array.from({ length: o.workers }, (_, i) => worker(i))]);
clearTimeout(stopAt);
clearInterval(ticker);
for (const j of jobs) if (j.state === 'todo') j.state = calibrationFailed && j.group === 'profile' ? 'skipped' : 'not started';
while (merging) await merging;
await merge(true);
writeProgress(true);
log(`done: complete prompts ${JSON.stringify(Object.fromEntries(o.rules.map((r) => [r, completePrompts(r)])))}; results in ${o.out}`);
