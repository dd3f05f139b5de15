#!/usr/bin/env node
/**
 * The fidelity run of issue 12 part 5: every policy at every ratio, under the official and the legacy
 * budget rule, on the held-out prompts of the trained model, sharded over many single-threaded engine
 * processes on the CPU provider. Built for the GPU machine's 16 cores (see bench/fidelity.md):
 *
 *   node bench/fidelity_run.mjs --out "$OUT/fidelity" [--prompts 50] [--workers 14] [--deadline 520]
 *
 * 1. Calibration: one `scalekv calibrate` measures the calibration prompts once (--keep-state) and writes
 *    the profile for the first rule and ratio; the other rules and ratios reuse that measurement (no model
 *    run). Profile rows (scalekv, amskv, hack, heatkv) wait for it; the uniform-budget rows do not.
 * 2. Jobs: one `scalekv evaluate` per (rule, prompt, group): group "uniform" is snapkv, h2o, local;
 *    group "profile" is scalekv, amskv, hack, heatkv with the rule's calibrated profile per ratio. Each
 *    job runs its prompt's full-cache reference and its rows. Official-rule jobs come first, prompt by
 *    prompt, then the legacy ones: if the deadline cuts the run, the legacy rule has fewer prompts.
 * 3. After every finished job the finished parts are merged (`scalekv merge-leaderboards --check`) into
 *    --out: leaderboard.json/.md, prompt-check.json/.md, and progress.json, so a cut-off run leaves its
 *    results so far. At --deadline seconds running jobs are stopped; a job is not started when the time
 *    jobs of its group took so far says it cannot finish in time. The final merge takes only the prompts
 *    whose two groups both finished (per rule), so every row of a rule averages the same prompts.
 *
 * Nothing but summaries goes to --out (images stay in --work).
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
  workers: Math.max(1, cpus().length - 2),
  threads: 1,
  'cal-threads': 2,
  deadline: 520,
  ratios: '0.04,0.1,0.2',
  rules: 'official,legacy',
  seed: 0,
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
  for (const k of ['prompts', 'legacy-prompts', 'workers', 'threads', 'cal-threads', 'deadline', 'seed']) o[k] = Number(o[k]);
  o.ratios = String(o.ratios).split(',').map(Number);
  o.rules = String(o.rules).split(',');
  for (const k of ['out', 'work', 'model', 'heldout', 'calibration']) o[k] = resolve(o[k]);
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
prompts.forEach((p, i) => writeFileSync(join(o.work, 'prompts', `${i}.txt`), `${p}\n`));

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
async function calibrate() {
  const state = join(o.work, 'calibration.state.json');
  for (const rule of o.rules) {
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
      mkdirSync(join(o.out, 'profiles'), { recursive: true });
      copyFileSync(profilePath(rule, ratio), join(o.out, 'profiles', `${rule}-${ratio}.json`));
    }
  }
  calibration.seconds = elapsed() - calibration.started;
  calibrated = true;
}

// ---- the job queue ------------------------------------------------------------------------------
const jobs = [];
for (const rule of o.rules) {
  const n = rule === 'legacy' ? Math.min(o['legacy-prompts'], prompts.length) : prompts.length;
  for (let i = 0; i < n; i++) {
    for (const group of Object.keys(GROUPS)) jobs.push({ rule, i, group, dir: join(o.work, 'jobs', `${rule}-${i}-${group}`), state: 'todo' });
  }
}

function jobArgs(j) {
  const args = ['evaluate', ...common, '--prompts-file', join(o.work, 'prompts', `${j.i}.txt`), '--seed', String(o.seed)];
  for (const p of GROUPS[j.group]) args.push('--policy', p);
  for (const r of o.ratios) args.push('--ratio', String(r));
  args.push('--budget-rule', j.rule, '--out', j.dir, '--keep-runs');
  if (j.group === 'profile') for (const r of o.ratios) args.push('--profile', profilePath(j.rule, r));
  return args;
}

const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : 0);
const took = (group) => jobs.filter((j) => j.state === 'done' && j.group === group).map((j) => j.seconds);

/** the next job that may start now: profile jobs only once calibrated; none that cannot end by the deadline */
function nextJob() {
  for (const j of jobs) {
    if (j.state !== 'todo') continue;
    if (j.group === 'profile' && !calibrated) continue;
    const est = median(took(j.group));
    if (elapsed() + est > o.deadline) continue;
    return j;
  }
  return null;
}

// ---- merging ------------------------------------------------------------------------------------
let merging = null;
let mergeAgain = false;
function complete(rule) {
  const done = (i, g) => jobs.some((j) => j.rule === rule && j.i === i && j.group === g && j.state === 'done');
  return prompts.map((_, i) => i).filter((i) => done(i, 'uniform') && done(i, 'profile'));
}
function writeProgress(final) {
  const rows = jobs.map(({ rule, i, group, state, seconds, rc, started }) => ({ rule, prompt: i, group, state, seconds, rc, started }));
  const perImage = (group) => {
    const rows = GROUPS[group].length * o.ratios.length + 1;
    return took(group).map((s) => s / rows);
  };
  const info = {
    final,
    elapsedSeconds: elapsed(),
    settings: { ...o, cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: totalmem() / 2 ** 30, node: process.version },
    calibration,
    completePrompts: Object.fromEntries(o.rules.map((r) => [r, complete(r).length])),
    secondsPerImage: { uniform: median(perImage('uniform')), profile: median(perImage('profile')) },
    jobs: rows,
  };
  writeFileSync(join(o.out, 'progress.json'), JSON.stringify(info, null, 1));
}
function merge(final = false) {
  if (merging) {
    mergeAgain = true;
    return merging;
  }
  const parts = final
    ? o.rules.flatMap((r) => complete(r).flatMap((i) => Object.keys(GROUPS).map((g) => join(o.work, 'jobs', `${r}-${i}-${g}`))))
    : jobs.filter((j) => j.state === 'done').map((j) => j.dir);
  writeProgress(final);
  if (!parts.length) return Promise.resolve();
  const args = ['merge-leaderboards', '--check', '--out', o.out];
  for (const p of parts) args.push('--part', p);
  merging = runCli(args, 1, join(o.work, 'merge.log')).then((rc) => {
    if (rc !== 0) {
      log(`merge failed (rc ${rc}); see logs/merge.log`);
      copyFileSync(join(o.work, 'merge.log'), join(o.out, 'logs', 'merge.log'));
    }
    merging = null;
    if (mergeAgain && !final) {
      mergeAgain = false;
      return merge();
    }
  });
  return merging;
}

// ---- the run ------------------------------------------------------------------------------------
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
      if (!waiting) return;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    j.state = 'running';
    j.started = elapsed();
    const rc = await runCli(jobArgs(j), o.threads, join(o.work, `job-${j.rule}-${j.i}-${j.group}.log`));
    j.rc = rc;
    j.seconds = elapsed() - j.started;
    j.state = rc === 0 && existsSync(join(j.dir, 'leaderboard.json')) ? 'done' : elapsed() > o.deadline ? 'stopped' : 'failed';
    if (j.state === 'failed') {
      copyFileSync(join(o.work, `job-${j.rule}-${j.i}-${j.group}.log`), join(o.out, 'logs', `job-${j.rule}-${j.i}-${j.group}.log`));
    }
    log(`${j.rule} prompt ${j.i} ${j.group}: ${j.state} in ${j.seconds.toFixed(1)} s`);
    if (j.state === 'done') merge();
  }
}

const stopAt = setTimeout(() => {
  log(`deadline (${o.deadline} s): stopping ${running.size} running process(es)`);
  for (const c of running) c.kill('SIGKILL');
}, o.deadline * 1000);

// profile jobs become runnable when calibration ends; jobs never run out while calibration is pending
await Promise.all([calDone, ...Array.from({ length: o.workers }, (_, i) => worker(i))]);
clearTimeout(stopAt);
for (const j of jobs) if (j.state === 'todo') j.state = calibrationFailed && j.group === 'profile' ? 'skipped' : 'not started';
mergeAgain = false;
while (merging) await merging;
await merge(true);
writeProgress(true);
log(`done: complete prompts ${JSON.stringify(Object.fromEntries(o.rules.map((r) => [r, complete(r).length])))}; results in ${o.out}`);
