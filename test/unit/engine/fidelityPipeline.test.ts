/**
 * The pieces the sharded fidelity run (bench/fidelity_run.mjs) stands on, on the embedded tiny model:
 * one calibration measurement reused for another rule (keepState, no model run the second time), an
 * evaluation whose profile rows (scalekv, hack, heatkv) each take the profile of a set made for their
 * rule, the prompt check of an evaluation folder (equal to the checker run directly, cached), the
 * merge command's outputs, and SCALEKV_CPU_THREADS parsing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { checkEvaluationFolder, checkKey, REFERENCE_ROW, summariseChecks } from '../../../src/cli/leaderboardCheck';
import { createEngine } from '../../../src/engine/engine';
import { evaluatePolicies, type EvaluationEngine } from '../../../src/engine/evaluate';
import { checkImage } from '../../../src/eval/checker';
import { cpuThreads, threadOptions } from '../../../src/engine/cpuThreads';
import { decodePng } from '../../../src/model/png';
import type { CalibrateRequest, Leaderboard, Progress, RunRecord, ScaleKVProfile } from '../../../src/shared/types';
import { ctx, tempDir } from './helpers';

const engine = createEngine();
test.after(() => engine.dispose());

const PROMPT = 'a small red circle at the top left on a blue background';
const dir = tempDir('fidelity');
const state = join(dir, 'cal.state.json');

function calReq(ratio: number, rule: 'official' | 'legacy'): CalibrateRequest {
  return {
    prompts: ['a bowl of colorful fruit'],
    targetRatio: ratio,
    aspectRatio: 1,
    resolution: '0.06M',
    cfg: 3,
    provider: 'cpu',
    outPath: join(dir, `${rule}-${ratio}.json`),
    statePath: state,
    keepState: true,
    budgetRule: rule,
  };
}

const read = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

test('one calibration measurement serves another rule: kept state, no model run the second time', async () => {
  const seen: Progress[][] = [[], []];
  const a = await engine.calibrate(
    calReq(0.1, 'official'),
    ctx((p) => seen[0].push(p)),
  );
  assert.ok(existsSync(state), 'keepState leaves the state file');
  const b = await engine.calibrate(
    calReq(0.1, 'legacy'),
    ctx((p) => seen[1].push(p)),
  );
  assert.ok(
    seen[0].some((p) => /Prompt 1\/1/.test(p.message)),
    'the first calibration ran the model',
  );
  assert.equal(seen[1].filter((p) => /Prompt 1\/1/.test(p.message)).length, 0, 'the second did not');
  const [pa, pb] = [read(a.profilePath), read(b.profilePath)] as ScaleKVProfile[];
  assert.deepEqual([pa.settings.budgetRule, pb.settings.budgetRule], ['official', 'legacy']);
  const factors = (p: ScaleKVProfile) => p.scales.map((x) => [x.asiCurrent, x.asiHistory]);
  assert.deepEqual(factors(pa), factors(pb), 'the same measurement');
  assert.ok(
    factors(pa).some(([c]) => c?.length),
    'factors were measured',
  );
  assert.deepEqual(pa.hack, pb.hack);
  assert.ok(pb.hack && pb.heat, 'per-head statistics for HACK and HeatKV');
  // without keepState the state goes once the profile is written (the default)
  await engine.calibrate({ ...calReq(0.2, 'official'), keepState: undefined }, ctx());
  assert.equal(existsSync(state), false);
});

test('a profile set: scalekv, hack and heatkv rows each use the profile of their rule; the prompt check per image', async () => {
  const set = [join(dir, 'official-0.1.json'), join(dir, 'legacy-0.1.json')];
  assert.ok(
    set.every((p) => existsSync(p)),
    'made by the test before',
  );
  const calibrations: CalibrateRequest[] = [];
  const e: EvaluationEngine = {
    describeModel: (r) => engine.describeModel(r),
    generate: (r, c) => engine.generate(r, c),
    calibrate: (r, c) => {
      calibrations.push(r);
      return engine.calibrate(r, c);
    },
  };
  const out = join(dir, 'eval');
  const req = {
    prompts: [PROMPT],
    seeds: [0],
    policies: ['scalekv', 'hack', 'heatkv'] as const,
    ratios: [0.1],
    aspectRatio: 1,
    resolution: '0.06M',
    cfg: 3,
    tau: 1,
    topK: 900,
    topP: 0.97,
    provider: 'cpu' as const,
    outDir: out,
    profileSet: set,
    budgetRules: ['official', 'legacy'] as ('official' | 'legacy')[],
    keepRuns: true,
  };
  const r = await evaluatePolicies(e, { ...req, policies: [...req.policies] }, ctx());
  const lb: Leaderboard = r.leaderboard;
  assert.equal(calibrations.length, 0, 'a given set is not calibrated again');
  assert.equal(lb.rows.length, 6);
  assert.deepEqual(
    lb.profiles.map((p) => [p.rule, p.path]),
    [
      ['official', set[0]],
      ['legacy', set[1]],
    ],
  );
  for (const c of lb.perPrompt) {
    const run = read(join(out, 'runs', c.candidateRun, 'run.json')) as RunRecord;
    const rule = lb.rows.find((x) => x.key === c.row)!.budgetRule;
    assert.equal(run.request.policy.profilePath, rule === 'official' ? set[0] : set[1], c.row);
  }

  const first = checkEvaluationFolder(out, lb);
  assert.deepEqual([first.checked, first.missing], [7, 0], 'the reference and six candidates');
  for (const c of lb.perPrompt) {
    const run = read(join(out, 'runs', c.candidateRun, 'run.json')) as RunRecord;
    const file = join(out, 'runs', c.candidateRun, run.images[0].path);
    const direct = checkImage(decodePng(readFileSync(file)), PROMPT);
    const got = first.cache[checkKey(c.row, c.prompt, c.seed)];
    assert.deepEqual(got, { colour: direct.colour, position: direct.position, shape: direct.shape });
  }
  assert.equal(checkEvaluationFolder(out, lb).checked, 0, 'checked images are cached in the folder');
  const rows = summariseChecks(lb, first.cache);
  assert.equal(rows[0].key, REFERENCE_ROW);
  assert.ok(rows.every((x) => x.images === 1));
  for (const x of rows) {
    const c = first.cache[checkKey(x.key, PROMPT, 0)];
    assert.equal(x.colourPositionShape, c.colour && c.position && c.shape ? 1 : 0);
  }

  // the merge command: one part merges to the same rows; the same part twice is refused
  const cli = resolve(__dirname, '..', '..', '..', '..', 'dist', 'cli.js');
  const merged = join(dir, 'merged');
  const ok = spawnSync(
    process.execPath,
    [cli, 'merge-leaderboards', '--part', out, '--part', join(dir, 'none'), '--out', merged, '--check'],
    { encoding: 'utf8' },
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /no leaderboard\.json yet in .*none; skipped/);
  const m = read(join(merged, 'leaderboard.json')) as Leaderboard;
  assert.deepEqual(
    m.rows.map((x) => [x.key, x.psnr, x.ssim]),
    lb.rows.map((x) => [x.key, x.psnr, x.ssim]),
  );
  assert.ok(existsSync(join(merged, 'prompt-check.md')) && existsSync(join(merged, 'leaderboard.md')));
  const twice = spawnSync(process.execPath, [cli, 'merge-leaderboards', '--part', out, '--part', out, '--out', merged], {
    encoding: 'utf8',
  });
  assert.equal(twice.status, 1);
  assert.match(twice.stderr, /E_INVALID_REQUEST: .*was measured in both/);
});

test('SCALEKV_CPU_THREADS: a whole number of threads for the CPU provider only; anything else is refused', () => {
  assert.equal(cpuThreads({}), undefined);
  assert.equal(cpuThreads({ SCALEKV_CPU_THREADS: '3' }), 3);
  assert.deepEqual(threadOptions('cpu', { SCALEKV_CPU_THREADS: '2' }), { intraOpNumThreads: 2 });
  assert.deepEqual(threadOptions('webgpu', { SCALEKV_CPU_THREADS: '2' }), {});
  for (const v of ['0', '1.5', 'many', '-1']) {
    assert.throws(
      () => cpuThreads({ SCALEKV_CPU_THREADS: v }),
      (e: { code?: string; message: string }) => e.code === 'E_INVALID_REQUEST' && e.message.includes(`'${v}'`),
    );
  }
});
