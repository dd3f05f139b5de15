/**
 * End to end on the embedded tiny model: images and run records are written, the KV accounting adds
 * up, calibration writes a profile and resumes after an interruption, a calibrated 10% ScaleKV run
 * keeps at most 10% of the cache the last scale attends to, and comparing a run with itself gives
 * identical images and tokens.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { test } from 'node:test';
import { createEngine } from '../../../src/engine/engine';
import { DEFAULT_ASI_TOP_K } from '../../../src/scalekv/asi';
import { defaultDrafterPairs, officialEligibleScales, uniformTokensPerLayer } from '../../../src/scalekv/officialRule';
import { cumulativeTokens, scaleSchedule } from '../../../src/model/schedule';
import { downscaleChw } from '../../../src/model/thumbnail';
import type { ScaleKVError } from '../../../src/shared/errors';
import type { RunRecord, ScaleKVProfile } from '../../../src/shared/types';
import { ctx, request, tempDir, TINY } from './helpers';

const engine = createEngine();
test.after(() => engine.dispose());

function readPng(path: string): { width: number; height: number; pixels: Buffer } {
  const b = readFileSync(path);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let p = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (p < b.length) {
    const len = b.readUInt32BE(p);
    const type = b.toString('ascii', p + 4, p + 8);
    if (type === 'IHDR') {
      width = b.readUInt32BE(p + 8);
      height = b.readUInt32BE(p + 12);
    }
    if (type === 'IDAT') idat.push(b.subarray(p + 8, p + 8 + len));
    p += 12 + len;
  }
  return { width, height, pixels: inflateSync(Buffer.concat(idat)) };
}

test('generate writes PNGs and a run record whose KV numbers add up (full cache)', async () => {
  const req = request({ prompts: ['a red apple', 'a lighthouse on a cliff at dusk'] });
  const { run, runPath } = await engine.generate(req, ctx());
  const dir = join(runPath, '..');
  assert.equal(run.images.length, 2);
  for (const im of run.images) {
    const png = readPng(join(dir, im.path));
    assert.equal(png.width, 256);
    assert.equal(png.height, 256);
    assert.equal(png.pixels.length, 256 * (1 + 3 * 256));
  }
  const saved: RunRecord = JSON.parse(readFileSync(runPath, 'utf8'));
  assert.equal(saved.id, run.id);
  assert.equal(saved.timings.length, 7);
  const cum = cumulativeTokens(scaleSchedule(1, '0.06M'));
  const rows = 4; // 2 prompts x CFG
  for (const s of run.kv.perScale) {
    assert.equal(
      s.perLayerHeld.reduce((a, b) => a + b, 0),
      s.heldBytes,
    );
    assert.equal(s.heldBytes, s.fullBytes, 'the full cache never evicts');
    assert.equal(s.fullBytes, 2 * 8 * rows * 4 * 16 * cum[s.scaleIndex] * 4);
    assert.deepEqual(s.perLayerTokens, new Array(8).fill(cum[s.scaleIndex]));
  }
  assert.equal(run.kv.peakBytes, run.kv.fullPeakBytes);
  assert.ok(existsSync(join(dir, 'tokens.bin')));
  assert.equal(readFileSync(join(dir, 'tokens.bin')).length, 2 * cum.at(-1)! * 16);
  assert.ok(
    run.images.every((im) => im.thumbnail === undefined),
    'a 256x256 image is its own thumbnail',
  );
});

/** PNG rows written with filter 0 -> planar [3, H, W] */
function toChw(png: { width: number; height: number; pixels: Buffer }): Uint8Array {
  const { width: w, height: h } = png;
  const out = new Uint8Array(3 * w * h);
  for (let y = 0; y < h; y++) {
    assert.equal(png.pixels[y * (1 + 3 * w)], 0, 'filter 0');
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[c * w * h + y * w + x] = png.pixels[y * (1 + 3 * w) + 1 + 3 * x + c];
  }
  return out;
}

test('the same seed gives the same image; another seed a different one', async () => {
  const a = await engine.generate(request({ seed: 11 }), ctx());
  const b = await engine.generate(request({ seed: 11 }), ctx());
  const c = await engine.generate(request({ seed: 12 }), ctx());
  const px = (r: { runPath: string; run: RunRecord }) => readPng(join(r.runPath, '..', r.run.images[0].path)).pixels;
  assert.ok(px(a).equals(px(b)));
  assert.ok(!px(a).equals(px(c)));
});

let profile: ScaleKVProfile;
const calDir = tempDir('cal');

test('calibration is resumable: an interrupted run continues from the saved prompts', async () => {
  const out = join(calDir, 'profile.json');
  // the legacy rule and the sum index, which choose a fixed number of drafters per scale (calibration's defaults are the official rule and Eq. 2)
  const req = {
    modelPath: TINY,
    prompts: ['a red apple', 'a blue car', 'a green tree'],
    targetRatio: 0.1,
    aspectRatio: 1,
    resolution: '0.25M',
    cfg: 3,
    provider: 'cpu' as const,
    outPath: out,
    draftersPerScale: 2,
    budgetRule: 'legacy' as const,
    asiMode: 'sum' as const,
  };
  const ac = new AbortController();
  let err: ScaleKVError | null = null;
  try {
    await engine.calibrate(
      req,
      ctx((p) => (p.prompt === 1 && p.scaleIndex === 3 ? ac.abort() : undefined), ac.signal),
    );
  } catch (e) {
    err = e as ScaleKVError;
  }
  assert.equal(err?.code, 'E_CANCELLED');
  const state = JSON.parse(readFileSync(`${out}.state.json`, 'utf8'));
  assert.equal(state.asi.prompts, 1, 'the first prompt was kept');
  const seen: number[] = [];
  const r = await engine.calibrate(
    req,
    ctx((p) => p.prompt !== undefined && !seen.includes(p.prompt) && seen.push(p.prompt)),
  );
  assert.deepEqual(seen, [1, 2], 'resumed at the second prompt');
  assert.equal(r.profile.calibration?.completedPrompts, 3);
  assert.ok(!existsSync(`${out}.state.json`));
  profile = r.profile;
  assert.equal(profile.scales.length, 10);
  for (const s of profile.scales) {
    if (s.compressed) assert.equal(s.roles.filter((x) => x === 'drafter').length, 2);
    assert.equal(s.asi?.length, 8);
    for (const v of s.asi ?? []) assert.ok(v > 0 && v <= 1, `ASI ${v} within (0, 1]`);
  }
});

test("calibration by default: Eq. 2 with K', drafters by Eq. 3 at the official density, official-rule budgets, per-head statistics for hack and heatkv", async () => {
  const out = join(calDir, 'official.json');
  const r = await engine.calibrate(
    {
      modelPath: TINY,
      prompts: ['a red apple'],
      targetRatio: 0.1,
      aspectRatio: 1,
      resolution: '0.06M',
      cfg: 3,
      provider: 'cpu',
      outPath: out,
    },
    ctx(),
  );
  const p = r.profile;
  const sched = scaleSchedule(1, '0.06M');
  const B = uniformTokensPerLayer(0.1, sched);
  const eligible = officialEligibleScales(sched, B);
  assert.deepEqual(
    [p.settings.budgetRule, p.settings.asiMode, p.settings.asiTopK, p.settings.tokensPerLayer],
    ['official', 'eq2', DEFAULT_ASI_TOP_K, B],
  );
  assert.equal(p.settings.drafterPairs, defaultDrafterPairs(8, eligible.length));
  const drafted = eligible.reduce((a, si) => a + p.scales[si].roles.filter((x) => x === 'drafter').length, 0);
  assert.equal(drafted, p.settings.drafterPairs);
  for (const s of p.scales) assert.equal(s.asiCurrent?.length, 8);
  assert.equal(p.hack?.verticality.length, 8);
  assert.equal(p.heat?.scas[0][0].length, sched.length);
  // the head-aware policies run on it within the uniform baselines' memory
  for (const name of ['hack', 'heatkv'] as const) {
    const g = await engine.generate(request({ policy: { name, ratio: 0.1, profilePath: out }, recordRetention: false }), ctx());
    const n = g.run.kv.perScale.length;
    const held = g.run.kv.perScale[n - 2].perLayerTokens.reduce((a, b) => a + b, 0);
    assert.ok(held <= Math.floor(0.1 * 8 * cumulativeTokens(sched)[n - 2]), `${name} holds ${held} tokens`);
    assert.ok(held < 8 * cumulativeTokens(sched)[n - 2], `${name} compresses`);
  }
});

test('a 10% ScaleKV run keeps at most 10% of the cache the last scale attends to', async () => {
  const { run, runPath } = await engine.generate(
    request({ resolution: '0.25M', policy: { name: 'scalekv', ratio: 0.1, profilePath: join(calDir, 'profile.json') } }),
    ctx(),
  );
  const n = run.kv.perScale.length;
  const beforeLast = run.kv.perScale[n - 2];
  assert.ok(beforeLast.heldBytes <= 0.1 * beforeLast.fullBytes + 1e-9, `held ${beforeLast.heldBytes} vs full ${beforeLast.fullBytes}`);
  // uncompressed early scales (the first 121 tokens) keep everything
  for (const s of run.kv.perScale.filter((x) => cumulativeTokens(run.schedule)[x.scaleIndex] <= 121))
    assert.equal(s.heldBytes, s.fullBytes);
  // every layer keeps its budget: drafters more than refiners where evicting
  const last = profile.scales[n - 2];
  run.kv.perScale[n - 2].perLayerTokens.forEach((t, l) =>
    assert.ok(t <= (last.roles[l] === 'drafter' ? last.drafterBudget : last.refinerBudget)),
  );
  // the retention record has an entry for every layer and scale
  assert.equal(run.retention?.entries.length, 8 * n);
  // a 512x512 image gets a 256x256 thumbnail: the 2x2 means of its pixels
  const dir = join(runPath, '..');
  const im = run.images[0];
  assert.equal(im.thumbnail, 'image-0.thumb.png');
  const full = readPng(join(dir, im.path));
  const thumb = readPng(join(dir, im.thumbnail));
  assert.deepEqual([thumb.width, thumb.height], [256, 256]);
  assert.deepEqual(toChw(thumb), downscaleChw(toChw(full), 512, 512).data);
});

test('compare: a run against itself is identical; ScaleKV reports finite fidelity and a smaller cache', async () => {
  const r = await engine.compare(
    {
      base: { ...request(), resolution: '0.25M' },
      policies: [{ name: 'full' }, { name: 'scalekv', ratio: 0.1, profilePath: join(calDir, 'profile.json') }],
      outDir: tempDir('cmp'),
    },
    ctx(),
  );
  const same = r.reports[0];
  assert.equal(same.images[0].psnr, Infinity);
  assert.equal(same.images[0].ssim, 1);
  for (const t of same.tokenAgreement) assert.equal(t.agreement, 1);
  assert.equal(same.kvHeldRatio, 1);
  const skv = r.reports[1];
  assert.ok(Number.isFinite(skv.images[0].psnr) || skv.images[0].psnr === Infinity);
  assert.ok(skv.images[0].ssim <= 1 && skv.images[0].ssim > -1);
  assert.ok(skv.kvHeldRatio < 0.2);
  assert.equal(skv.tokenAgreement[0].agreement, 1, 'scales before any eviction sample the same tokens');
  assert.match(readFileSync(r.tablePath, 'utf8'), /\| scalekv \| 0\.1 \|/);
});

test("ScaleKV without a profile uses the one the model ships for the run's schedule, and derives one where none fits", async () => {
  const { run } = await engine.generate(request({ policy: { name: 'scalekv' } }), ctx());
  assert.equal(run.profile?.model.schedule.length, 7);
  assert.ok(run.kv.finalHeldBytes < run.kv.finalFullBytes);
  assert.equal((run.notices ?? []).filter((n) => n.kind === 'derived-profile').length, 0);
  // 16:9 has no shipped profile: one is derived on the fly, and the run says so
  const wide = (await engine.generate(request({ aspectRatio: 9 / 16, policy: { name: 'scalekv' } }), ctx())).run;
  assert.ok(wide.kv.finalHeldBytes < wide.kv.finalFullBytes);
  assert.match((wide.notices ?? []).find((n) => n.kind === 'derived-profile')?.message ?? '', /No ScaleKV profile was calibrated/);
});
