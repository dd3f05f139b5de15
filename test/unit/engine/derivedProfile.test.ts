// Every aspect ratio works with ScaleKV out of the box: where no shipped profile fits the schedule, one
// is derived on the fly (roles of the nearest calibrated schedule, official-rule budgets) with a notice;
// through the engine process the extension uses, and through the CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { EngineClient } from '../../../src/engine/client';
import { scaleSchedule } from '../../../src/model/schedule';
import { derivedProfile } from '../../../src/scalekv/derivedProfile';
import { officialPlan, uniformTokensPerLayer } from '../../../src/scalekv/officialRule';
import { syntheticProfile } from '../../../src/scalekv/syntheticProfile';
import type { RunRecord } from '../../../src/shared/types';
import { request, tempDir } from './helpers';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const WIDE = scaleSchedule(9 / 16, '1M');

test('a derived profile takes the nearest calibrated roles by scale index and official-rule budgets on its own schedule', () => {
  const model = { name: 'm', depth: 8, numHeads: 4, headDim: 16 };
  const square = syntheticProfile({ ...model, schedule: scaleSchedule(1, '1M') }, 0.1, 1);
  const small = syntheticProfile({ ...model, schedule: scaleSchedule(1, '0.25M') }, 0.1, 2);
  const { profile, notice } = derivedProfile([small, square], { ...model, schedule: WIDE }, 0.04);
  assert.match(notice, /13 scales to 48x84.*derived from the profile for 13 scales to 64x64.*ratio 0\.04/);
  assert.deepEqual(profile.model.schedule, WIDE);
  assert.equal(profile.settings.budgetRule, 'official');
  for (let si = 0; si < 12; si++) assert.deepEqual(profile.scales[si].roles, square.scales[si].roles);
  const B = uniformTokensPerLayer(0.04, WIDE);
  const plan = officialPlan(WIDE, 8, (si) => square.scales[si].roles.filter((r) => r === 'drafter').length, {
    tokensPerLayer: B,
    windowSize: 16,
  });
  for (let si = 0; si < 13; si++) {
    const row = plan.rows[si];
    assert.equal(profile.scales[si].compressed, row !== null, `scale ${si}`);
    if (row) assert.deepEqual([profile.scales[si].drafterBudget, profile.scales[si].refinerBudget], [row.max, row.min]);
  }
});

test("generate at 16:9 with ScaleKV through the engine process (the extension's path) derives a profile and says so", async () => {
  const out = tempDir('wide');
  const c = new EngineClient({ workerPath: join(ROOT, 'dist', 'worker.js') });
  try {
    const req = request({
      aspectRatio: 9 / 16,
      resolution: '0.06M',
      policy: { name: 'scalekv', ratio: 0.1 },
      outDir: out,
      recordRetention: false,
    });
    const { run } = await c.request('generate', req);
    const derived = (run.notices ?? []).filter((n) => n.kind === 'derived-profile');
    assert.equal(derived.length, 1);
    assert.match(derived[0].message, /No ScaleKV profile was calibrated for this run's 7 scales to 12x21/);
    assert.deepEqual(run.profile!.model.schedule, scaleSchedule(9 / 16, '0.06M'));
    assert.equal(run.profile!.settings.budgetRule, 'official');
    assert.ok(run.kv.finalHeldBytes < run.kv.finalFullBytes, 'the cache was compressed');
  } finally {
    c.dispose();
    rmSync(out, { recursive: true, force: true });
  }
});

test('scalekv generate --aspect 16:9 --policy scalekv on the embedded default model works from the command line', () => {
  const out = tempDir('cli-wide');
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'dist', 'cli.js'),
        'generate',
        '--aspect',
        '16:9',
        '--resolution',
        '0.06M',
        '--policy',
        'scalekv',
        '--provider',
        'cpu',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /No ScaleKV profile was calibrated for this run's 7 scales to 12x21; using one derived/);
    const run: RunRecord = JSON.parse(readFileSync(r.stdout.trim().split('\n').at(-1)!, 'utf8'));
    assert.equal(run.images[0].width, 21 * 16);
    assert.equal((run.notices ?? []).filter((n) => n.kind === 'derived-profile').length, 1);
    const bad = spawnSync(
      process.execPath,
      [join(ROOT, 'dist', 'cli.js'), 'generate', '--policy', 'scalekv', '--ratio', '0', '--out', out],
      { encoding: 'utf8' },
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /error E_BUDGET_INVALID: The ratio must be within \(0, 1\], got 0\./);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
