/**
 * Shipped profiles follow the weights: `calibrate-shipped` recalibrates a model folder's profiles (10%
 * measured, 4% and 20% derived with the same drafters) and stamps them with the transformer's sha256 from
 * the manifest; a profile stamped with other weights is refused, shipped or given by path.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { calibrateShipped } from '../../../src/cli/calibrateShipped';
import { createEngine } from '../../../src/engine/engine';
import { type ScaleKVError } from '../../../src/shared/errors';
import type { ScaleKVProfile } from '../../../src/shared/types';
import { ctx, request, tempDir, TINY } from './helpers';

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** the tiny model's parts under a manifest that records a resolution and the transformer's hash, as an export does */
function tinyExport(): string {
  const dir = tempDir('shipped');
  const m = JSON.parse(readFileSync(join(TINY, 'manifest.json'), 'utf8'));
  for (const f of [m.transformer, m.vae, m.textEncoder]) cpSync(join(TINY, f), join(dir, f), { recursive: true });
  const files = { [m.transformer]: { sha256: sha256(join(dir, m.transformer)) } };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, profile: undefined, profiles: [], resolution: '0.25M', files }));
  return dir;
}

const files = ['profile-0.25M-10pct.json', 'profile-0.25M-4pct.json', 'profile-0.25M-20pct.json'];

test('calibrate-shipped writes 10% measured, 4% and 20% with the same drafters, all stamped with the weights, and lists them', async () => {
  const dir = tinyExport();
  const engine = createEngine();
  try {
    const r = await calibrateShipped(engine, dir, ['a red circle'], 'cpu', ctx());
    assert.deepEqual(r.files, files);
    const written = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    assert.equal(written.profile, files[0]);
    assert.deepEqual(written.profiles, files);
    const want = sha256(join(dir, written.transformer));
    assert.equal(r.weightsSha256, want);
    const ps: ScaleKVProfile[] = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    assert.deepEqual(
      ps.map((p) => p.settings.targetRatio),
      [0.1, 0.04, 0.2],
    );
    for (const p of ps) {
      assert.equal(p.weights?.transformerSha256, want);
      assert.deepEqual(
        p.scales.map((s) => s.roles),
        ps[0].scales.map((s) => s.roles),
      );
      assert.deepEqual(p.calibration?.prompts, ['a red circle']);
    }
    const last = (p: ScaleKVProfile) => p.scales.at(-1)!.drafterBudget;
    assert.ok(last(ps[1]) < last(ps[0]) && last(ps[0]) < last(ps[2]), 'budgets follow the ratio');
  } finally {
    await engine.dispose();
  }
  // a new engine (it keeps a loaded model, manifest included): the shipped profile serves a ScaleKV run on these weights
  await withEngine(async (engine) => {
    const ok = await engine.generate(
      request({ modelPath: dir, resolution: '0.25M', policy: { name: 'scalekv', ratio: 0.1 }, recordRetention: false }),
      ctx(),
    );
    assert.deepEqual(ok.run.notices, []);
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  await withEngine(async (engine) => {
    // new weights (the manifest records another hash) make the shipped profiles stale: refused, by path too
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ ...manifest, files: { [manifest.transformer]: { sha256: 'a'.repeat(64) } } }),
    );
    const stale = (e: ScaleKVError) =>
      e.code === 'E_PROFILE_MODEL_MISMATCH' && /calibrated on other weights.*npm run calibrate-default/.test(e.message);
    await assert.rejects(
      engine.generate(request({ modelPath: dir, resolution: '0.25M', policy: { name: 'scalekv', ratio: 0.1 } }), ctx()),
      stale,
    );
    const byPath = { name: 'scalekv' as const, ratio: 0.1, profilePath: join(dir, files[1]) };
    await assert.rejects(engine.generate(request({ modelPath: dir, resolution: '0.25M', policy: byPath }), ctx()), stale);
    // the full cache needs no profile
    await engine.generate(request({ modelPath: dir, resolution: '0.25M', policy: { name: 'full' }, recordRetention: false }), ctx());
  });
});

async function withEngine(job: (e: ReturnType<typeof createEngine>) => Promise<void>): Promise<void> {
  const engine = createEngine();
  try {
    await job(engine);
  } finally {
    await engine.dispose();
  }
}

test('calibrate-shipped refuses a model whose manifest records no hash of its weights', async () => {
  const engine = createEngine();
  try {
    await assert.rejects(
      calibrateShipped(engine, TINY, ['a'], 'cpu', ctx()),
      (e: ScaleKVError) => e.code === 'E_INVALID_REQUEST' && /sha256/.test(e.message),
    );
  } finally {
    await engine.dispose();
  }
});
