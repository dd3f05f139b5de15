/**
 * `scalekv evaluate` on the embedded tiny model (0.06M, 2 prompts): the leaderboard's numbers match an
 * independent computation from the files the runs wrote, an evaluation interrupted through its
 * AbortSignal resumes without recomputing finished rows (counted at the engine), outputs are written
 * atomically, and the ablation runs ScaleKV once per ASI variant with a profile calibrated for each.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { createEngine } from '../../../src/engine/engine';
import { evaluatePolicies, STATE_FILE, type EvaluationEngine } from '../../../src/engine/evaluate';
import { decodePngPlanes } from '../../../src/model/png';
import type { CalibrateRequest, EvaluateRequest, GenerateRequest, Leaderboard, RunRecord } from '../../../src/shared/types';
import { ctx, tempDir, TINY } from './helpers';

const engine = createEngine();
test.after(() => engine.dispose());

const PROMPTS = ['a red apple on a wooden table', 'a small cat sleeping on a blue sofa'];

function evalRequest(over: Partial<EvaluateRequest> = {}): EvaluateRequest {
  return {
    modelPath: TINY,
    prompts: PROMPTS,
    seeds: [1],
    policies: ['snapkv', 'scalekv'],
    ratios: [0.1],
    aspectRatio: 1,
    resolution: '0.06M',
    cfg: 3,
    tau: 1,
    topK: 900,
    topP: 0.97,
    provider: 'cpu',
    outDir: tempDir('evaluate'),
    ...over,
  };
}

/** the engine, counting the runs and calibrations it is asked for; `after(n)` fires once n candidate runs finished */
function counting(after?: { n: number; then: () => void }) {
  const calls = { full: 0, candidates: [] as string[], calibrations: [] as (CalibrateRequest & { asiMode?: string })[] };
  const e: EvaluationEngine = {
    describeModel: (req) => engine.describeModel(req),
    async calibrate(req, c) {
      calls.calibrations.push(req);
      return engine.calibrate(req, c);
    },
    async generate(req: GenerateRequest, c) {
      const r = await engine.generate(req, c);
      if (req.policy.name === 'full') calls.full++;
      else {
        calls.candidates.push(`${req.prompts[0]}|${req.policy.name}|${req.policy.ratio}`);
        if (after && calls.candidates.length === after.n) after.then();
      }
      return r;
    },
  };
  return { e, calls };
}

const cellsOf = (dir: string) => JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')).cells as Record<string, { candidateRun: string }>;

test('an interrupted evaluation resumes without recomputing finished rows; the leaderboard matches the files', async () => {
  const req = evalRequest({ keepRuns: true });
  const ac = new AbortController();
  const first = counting({ n: 3, then: () => ac.abort() });
  await assert.rejects(evaluatePolicies(first.e, req, ctx(undefined, ac.signal)), (e: { code?: string }) => e.code === 'E_CANCELLED');
  // prompt 1: reference + 2 rows; prompt 2: reference + 1 row, then the abort
  assert.equal(first.calls.full, 2);
  assert.equal(first.calls.candidates.length, 3);
  assert.equal(existsSync(join(req.outDir, 'leaderboard.json')), false, 'no leaderboard before the end');
  const before = cellsOf(req.outDir);
  assert.equal(Object.keys(before).length, 3);

  const second = counting();
  const progress: string[] = [];
  const r = await evaluatePolicies(
    second.e,
    req,
    ctx((p) => p.stage === 'evaluate' && progress.push(p.message)),
  );
  // no reference runs again: the first prompt's rows are done, the second's reference is read back from its files
  assert.equal(second.calls.full, 0);
  assert.deepEqual(second.calls.candidates, [`${PROMPTS[1]}|scalekv|0.1`], 'only the row that was missing runs');
  assert.equal(r.computed, 1);
  assert.equal(r.resumed, 3);
  const after = cellsOf(req.outDir);
  for (const [k, v] of Object.entries(before)) assert.equal(after[k].candidateRun, v.candidateRun, `${k} kept its measurement`);
  assert.ok(
    progress.every((m) => !m.includes(PROMPTS[0])),
    'no step of the finished prompt is reported',
  );

  const lb = JSON.parse(readFileSync(r.jsonPath, 'utf8')) as Leaderboard;
  assert.equal(lb.format, 'scalekv-leaderboard');
  assert.deepEqual(lb.rows.map((x) => x.policy).sort(), ['scalekv', 'snapkv']);
  assert.equal(lb.perPrompt.length, 4);
  assert.equal(lb.references.length, 2);
  // every per-prompt number again, from the run folders, with float64 arithmetic written here
  const runs = join(req.outDir, 'runs');
  const load = (id: string) => {
    const run = JSON.parse(readFileSync(join(runs, id, 'run.json'), 'utf8')) as RunRecord;
    return {
      run,
      px: decodePngPlanes(readFileSync(join(runs, id, run.images[0].path))).chw,
      tokens: readFileSync(join(runs, id, 'tokens.bin')),
    };
  };
  for (const row of lb.perPrompt) {
    const ref = load(lb.references.find((x) => x.prompt === row.prompt)!.run);
    const cand = load(row.candidateRun);
    let se = 0;
    for (let i = 0; i < ref.px.length; i++) se += (ref.px[i] - cand.px[i]) ** 2;
    const want = se === 0 ? null : 10 * Math.log10((255 * 255) / (se / ref.px.length));
    if (want === null) assert.equal(row.psnr, null);
    else assert.ok(Math.abs(row.psnr! - want) < 1e-9, `psnr ${row.psnr} vs ${want}`);
    // the last scale's bits are the tail of tokens.bin: h * w * codebookDim values for one prompt
    const last = ref.run.schedule.at(-1)!;
    const n = last.h * last.w * ref.run.model.codebookDim;
    const a = ref.tokens.subarray(ref.tokens.length - n);
    const b = cand.tokens.subarray(cand.tokens.length - n);
    let same = 0;
    for (let i = 0; i < n; i++) same += a[i] === b[i] ? 1 : 0;
    assert.equal(row.bitAgreement, same / n);
    assert.equal(row.kvHeldRatio, cand.run.kv.finalHeldBytes / ref.run.kv.finalHeldBytes);
    assert.ok(row.kvHeldRatio < 0.2, 'a 10% policy holds far less than the full cache');
    assert.ok(row.ssim <= 1 && row.ssim > 0);
  }
  for (const row of lb.rows) {
    const mine = lb.perPrompt.filter((x) => x.row === row.key);
    assert.equal(row.cases, 2);
    const finite = mine.filter((x) => x.psnr !== null).map((x) => x.psnr!);
    if (finite.length) assert.ok(Math.abs(row.psnr! - finite.reduce((p, q) => p + q, 0) / finite.length) < 1e-9);
    assert.ok(Math.abs(row.ssim - (mine[0].ssim + mine[1].ssim) / 2) < 1e-12);
  }
  const md = readFileSync(r.tablePath, 'utf8');
  assert.match(md, /\| snapkv \| 0\.1 \|/);
  assert.match(md, /\| scalekv \| 0\.1 \|/);
  assert.deepEqual(
    readdirSync(req.outDir).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary files left',
  );

  // run again unchanged: nothing is generated, the same leaderboard comes out
  const third = counting();
  const again = await evaluatePolicies(third.e, req, ctx());
  assert.equal(third.calls.full + third.calls.candidates.length, 0);
  assert.deepEqual(again.leaderboard.rows, lb.rows);
});

test('progressive: a partial leaderboard after every finished prompt, the complete one at the end', async () => {
  const req = evalRequest({ policies: ['snapkv'], progressive: true });
  const seen: Leaderboard[] = [];
  const c = counting();
  const e: EvaluationEngine = {
    ...c.e,
    async generate(r, x) {
      // a new prompt's reference starts: what the leaderboard on disk says at that moment
      if (r.policy.name === 'full' && existsSync(join(req.outDir, 'leaderboard.json'))) {
        seen.push(JSON.parse(readFileSync(join(req.outDir, 'leaderboard.json'), 'utf8')));
      }
      return c.e.generate(r, x);
    },
  };
  const r = await evaluatePolicies(e, req, ctx());
  assert.equal(seen.length, 1, 'written once before the second prompt, not before the first');
  assert.deepEqual([seen[0].prompts, seen[0].perPrompt.length, seen[0].references.length], [[PROMPTS[0]], 1, 1]);
  assert.ok(seen[0].notes.some((n) => /^Partial: 1 of 2 prompt and seed case/.test(n)));
  assert.deepEqual(seen[0].perPrompt[0], r.leaderboard.perPrompt[0], 'the same measurement');
  assert.deepEqual(r.leaderboard.prompts, PROMPTS);
  assert.ok(!r.leaderboard.notes.some((n) => /^Partial/.test(n)), 'the final leaderboard is not partial');
});

test('a state written with other settings is not reused', async () => {
  const req = evalRequest({ policies: ['snapkv'], prompts: [PROMPTS[0]] });
  await evaluatePolicies(counting().e, req, ctx());
  const other = counting();
  await evaluatePolicies(other.e, { ...req, cfg: 4 }, ctx());
  assert.equal(other.calls.full, 1);
  assert.equal(other.calls.candidates.length, 1);
  // an unreadable state is ignored with a warning, not an error
  writeFileSync(join(req.outDir, STATE_FILE), '{"version": 1, "cel');
  const third = counting();
  await evaluatePolicies(third.e, req, ctx());
  assert.equal(third.calls.candidates.length, 1);
});

test('ablation: ScaleKV once per ASI variant, each with its own calibration, asiMode passed through', async () => {
  const calibrationPrompts = ['a bowl of colorful fruit'];
  const req = evalRequest({ policies: ['scalekv'], prompts: [PROMPTS[0]], ablation: true, calibrationPrompts, keepRuns: true });
  const c = counting();
  const r = await evaluatePolicies(c.e, req, ctx());
  assert.deepEqual(c.calls.calibrations.map((x) => x.asiMode).sort(), ['current', 'eq2', 'history']);
  assert.ok(c.calls.calibrations.every((x) => x.targetRatio === 0.1 && x.prompts.length === 1));
  assert.deepEqual(r.leaderboard.rows.map((x) => x.asiMode).sort(), ['current', 'eq2', 'history']);
  assert.deepEqual(r.leaderboard.rows.map((x) => x.label).sort(), ['scalekv (ASI current)', 'scalekv (ASI eq2)', 'scalekv (ASI history)']);
  assert.equal(r.leaderboard.profiles.length, 3);
  for (const p of r.leaderboard.profiles) assert.ok(existsSync(p.path), p.path);
  // every row ran with the profile calibrated for its own variant
  for (const row of r.leaderboard.rows) {
    const cand = r.leaderboard.perPrompt.find((x) => x.row === row.key)!;
    const run = JSON.parse(readFileSync(join(req.outDir, 'runs', cand.candidateRun, 'run.json'), 'utf8')) as RunRecord;
    assert.equal(run.request.policy.profilePath, r.leaderboard.profiles.find((p) => p.asiMode === row.asiMode)!.path);
  }
});

test('budget rules: every row once per rule, the rule passed to the policy', async () => {
  const seen: string[] = [];
  const c = counting();
  const e: EvaluationEngine = {
    ...c.e,
    generate: (req, x) => {
      seen.push(`${req.policy.name}:${(req.policy as { budgetRule?: string }).budgetRule ?? '-'}`);
      return c.e.generate(req, x);
    },
  };
  const req = evalRequest({ policies: ['snapkv'], prompts: [PROMPTS[0]], budgetRules: ['official', 'legacy'] });
  const r = await evaluatePolicies(e, req, ctx());
  assert.deepEqual(seen, ['full:-', 'snapkv:official', 'snapkv:legacy']);
  assert.deepEqual(r.leaderboard.rows.map((x) => x.budgetRule).sort(), ['legacy', 'official']);
  assert.deepEqual(r.leaderboard.budgetRules, ['official', 'legacy']);
  assert.match(readFileSync(r.tablePath, 'utf8'), /\| snapkv \| 0\.1 \| legacy \|/);
});

test('candidate run folders are removed after measuring unless kept; the references stay for resuming', async () => {
  const req = evalRequest({ policies: ['snapkv'], prompts: [PROMPTS[0]] });
  const r = await evaluatePolicies(counting().e, req, ctx());
  assert.deepEqual(readdirSync(join(req.outDir, 'runs')), [r.leaderboard.references[0].run]);
});

test('the CLI: bad input fails before the engine starts; a small evaluation prints its table', () => {
  const cli = resolve(__dirname, '..', '..', '..', '..', 'dist', 'cli.js');
  const dir = tempDir('evaluate-cli');
  const prompts = join(dir, 'prompts.txt');
  writeFileSync(prompts, `# held out\n${PROMPTS[0]}\n`);
  const run = (...a: string[]) => spawnSync(process.execPath, [cli, 'evaluate', ...a], { encoding: 'utf8' });
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '\n# nothing\n');
  const bad = run('--prompts-file', empty, '--out', join(dir, 'bad'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error E_INVALID_REQUEST: .*has no prompts/m);
  assert.doesNotMatch(bad.stderr, /Loading|Building/, 'no model was loaded');
  assert.equal(existsSync(join(dir, 'bad')), false);
  const ratio = run('--prompts-file', prompts, '--ratio', '2', '--out', join(dir, 'bad'));
  assert.match(ratio.stderr, /error E_INVALID_REQUEST: A ratio must be within \(0, 1\]/);
  const small = ['--model', TINY, '--policy', 'snapkv', '--ratio', '0.1', '--resolution', '0.06M', '--provider', 'cpu', '--seed', '2'];
  const ok = run('--prompts-file', prompts, ...small, '--out', join(dir, 'ok'));
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /\| snapkv \| 0\.1 \|/);
  assert.match(ok.stderr, /prompt 1\/1, seed 2: full cache/);
  const lb = JSON.parse(readFileSync(join(dir, 'ok', 'leaderboard.json'), 'utf8')) as Leaderboard;
  assert.deepEqual([lb.rows.length, lb.seeds[0], lb.prompts[0]], [1, 2, PROMPTS[0]]);
});
