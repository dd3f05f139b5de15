// Every policy, driven the way the engine drives it (needs -> layer -> select -> evict), on a small
// model over nine 1:1 scales: at most its budget per layer and scale, ascending in-range indices,
// the memory ratio honoured, and 'full' keeping everything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KvPolicy } from '../../../src/kvcache/policy';
import { ScaleKVError } from '../../../src/shared/errors';
import type { PolicySpec, ScaleShape } from '../../../src/shared/types';
import { appliedProfile, createPolicy, type CreatedPolicy } from '../../../src/scalekv/policies';
import { syntheticProfile } from '../../../src/scalekv/syntheticProfile';
import { rng } from './helpers';

const SCHEDULE: ScaleShape[] = [1, 2, 4, 6, 8, 12, 16, 20, 24].map((n) => ({ h: n, w: n }));
const MODEL = { depth: 4, numHeads: 2, headDim: 8, schedule: SCHEDULE };
const ROWS = 2;
const RH = ROWS * MODEL.numHeads;
const cum = (() => {
  let a = 0;
  return SCHEDULE.map((s) => (a += s.h * s.w));
})();

/** Drives a policy through one generation; returns cache lengths [scale][layer] and final positions. */
function drive(policy: CreatedPolicy | KvPolicy, seed: number): { lengths: number[][]; positions: Int32Array[] } {
  const r = rng(seed);
  policy.reset();
  const positions = Array.from({ length: MODEL.depth }, () => new Int32Array(0)); // [rh][len] per layer
  const lens = new Array<number>(MODEL.depth).fill(0);
  const lengths: number[][] = [];
  SCHEDULE.forEach((s, si) => {
    const L = s.h * s.w;
    for (let l = 0; l < MODEL.depth; l++) {
      const prev = lens[l];
      const N = prev + L;
      const pos = new Int32Array(RH * N);
      for (let rh = 0; rh < RH; rh++) {
        pos.set(positions[l].subarray(rh * prev, (rh + 1) * prev), rh * N);
        for (let i = 0; i < L; i++) pos[rh * N + prev + i] = (si ? cum[si - 1] : 0) + i;
      }
      const needs = policy.needs(l, si, N, SCHEDULE);
      let windowScores: Float32Array | null = null;
      if (needs.windowQueries) {
        assert.ok(
          needs.windowQueries.every((q) => q >= 0 && q < L),
          'window queries inside the current map',
        );
        windowScores = Float32Array.from({ length: RH * needs.windowQueries.length * N }, () => r() * 4 - 2);
      }
      let colsum: Float32Array | null = null;
      if (needs.colsum) colsum = Float32Array.from({ length: RH * N }, () => r());
      const sel = policy.select({
        layer: l,
        scaleIndex: si,
        schedule: SCHEDULE,
        rows: ROWS,
        heads: MODEL.numHeads,
        cacheLen: N,
        curLen: L,
        positions: pos,
        isLastScale: si === SCHEDULE.length - 1,
        windowScores,
        colsum,
      });
      if (!sel) {
        positions[l] = pos;
        lens[l] = N;
        continue;
      }
      const budget = 'budget' in policy ? policy.budget(l, si) : null;
      assert.ok(budget !== null, `${policy.name} evicted at layer ${l} scale ${si} without a budget`);
      assert.ok(sel.perHead <= budget, `${policy.name}: kept ${sel.perHead} > budget ${budget} (layer ${l}, scale ${si})`);
      assert.equal(sel.keep.length, RH * sel.perHead);
      const next = new Int32Array(RH * sel.perHead);
      for (let rh = 0; rh < RH; rh++) {
        for (let i = 0; i < sel.perHead; i++) {
          const k = sel.keep[rh * sel.perHead + i];
          assert.ok(k >= 0 && k < N, 'index in range');
          if (i) assert.ok(k > sel.keep[rh * sel.perHead + i - 1], `${policy.name}: indices ascending`);
          next[rh * sel.perHead + i] = pos[rh * N + k];
        }
      }
      positions[l] = next;
      lens[l] = sel.perHead;
    }
    lengths.push([...lens]);
  });
  return { lengths, positions };
}

test("'full' keeps every token", () => {
  const p = createPolicy({ name: 'full' }, MODEL);
  const { lengths, positions } = drive(p, 1);
  assert.deepEqual(
    lengths.map((ls) => ls[0]),
    cum,
  );
  for (const pos of positions)
    for (let rh = 0; rh < RH; rh++)
      assert.deepEqual(
        [...pos.subarray(rh * cum[8], (rh + 1) * cum[8])],
        Array.from({ length: cum[8] }, (_, i) => i),
      );
});

const profile = syntheticProfile({ name: 'tiny', ...MODEL }, 0.1, 1);
const SPECS: PolicySpec[] = [
  { name: 'scalekv', profile },
  { name: 'scalekv', profile, ratio: 0.2, pooling: 'avgpool', poolingKernel: 3 },
  { name: 'snapkv', ratio: 0.1 },
  { name: 'h2o', ratio: 0.1 },
  { name: 'local', ratio: 0.1 },
  { name: 'local', ratio: 0.2, localScales: 2 },
  { name: 'amskv', ratio: 0.1 },
  { name: 'amskv', profile, ratio: 0.15 },
];

for (const spec of SPECS) {
  test(`${spec.name} ${JSON.stringify({ ...spec, profile: spec.profile ? 'synthetic' : undefined })}: within budget, ascending, ratio honoured`, () => {
    const p = createPolicy(spec, MODEL);
    const { lengths } = drive(p, 7);
    const ratio = spec.ratio ?? profile.settings.targetRatio;
    const allowed = ratio * MODEL.depth * cum[cum.length - 2];
    const compressedAt = lengths.findIndex((_, si) => p.budget(0, si) !== null);
    assert.ok(compressedAt > 0, 'some scale is compressed');
    for (let si = compressedAt; si < SCHEDULE.length; si++) {
      const held = lengths[si].reduce((a, b) => a + b, 0);
      assert.ok(held <= allowed, `${p.name}: ${held} tokens held after scale ${si}, allowed ${allowed}`);
    }
    assert.ok(
      lengths[8].some((v) => v < cum[8]),
      'something was evicted',
    );
    assert.ok(p.note.length > 0);
  });
}

test('local keeps whole recent scales; amskv keeps condensed early tokens', () => {
  const local = drive(createPolicy({ name: 'local', ratio: 0.2 }, MODEL), 3);
  const budget = createPolicy({ name: 'local', ratio: 0.2 }, MODEL).budget(0, 5)!;
  assert.equal(budget, 184);
  // after 12x12: 144 + 64 (8x8) would exceed 184, so only the newest whole scale stays
  assert.equal(local.lengths[5][0], 144);
  // 24x24 alone exceeds the budget: its last 184 tokens
  assert.equal(local.lengths[8][0], 184);
  assert.deepEqual(
    [...local.positions[0].subarray(0, 184)],
    Array.from({ length: 184 }, (_, i) => cum[8] - 184 + i),
  );
  const ams = drive(createPolicy({ name: 'amskv', ratio: 0.1 }, MODEL), 3);
  const p0 = ams.positions[0];
  assert.ok([...p0].filter((x) => x < 121).length > 0, 'condensed-scale tokens survive');
});

test('the engine protocol is enforced and bad specs are refused', () => {
  const snap = createPolicy({ name: 'snapkv', ratio: 0.1 }, MODEL);
  snap.reset();
  const ctx = {
    layer: 0,
    scaleIndex: 8,
    schedule: SCHEDULE,
    rows: ROWS,
    heads: 2,
    cacheLen: 900,
    curLen: 576,
    positions: new Int32Array(RH * 900),
    isLastScale: true,
    windowScores: null,
    colsum: null,
  };
  assert.throws(
    () => snap.select(ctx),
    (e: unknown) => e instanceof ScaleKVError && e.code === 'E_INTERNAL' && /without a matching needs\(\)/.test(e.message),
  );
  assert.throws(
    () => createPolicy({ name: 'scalekv' }, MODEL),
    (e: unknown) => e instanceof ScaleKVError && e.code === 'E_PROFILE_INVALID',
  );
  assert.throws(
    () => createPolicy({ name: 'scalekv', profile }, { ...MODEL, depth: 5 }),
    (e: unknown) => e instanceof ScaleKVError && e.code === 'E_PROFILE_MODEL_MISMATCH' && /4 layers vs the model's 5/.test(e.message),
  );
  assert.throws(
    () => createPolicy({ name: 'snapkv', poolingKernel: 4 }, MODEL),
    (e: unknown) => e instanceof ScaleKVError && e.code === 'E_BUDGET_INVALID',
  );
  assert.throws(
    () => createPolicy({ name: 'h2o', ratio: 0.001 }, MODEL),
    (e: unknown) => e instanceof ScaleKVError && e.code === 'E_BUDGET_INVALID',
  );
});

test('a run at another ratio than its profile records the budgets it applied, which its caches obey', () => {
  const prof = syntheticProfile({ name: 'tiny', ...MODEL }, 0.2, 1);
  const same = createPolicy({ name: 'scalekv', ratio: 0.2, profile: prof }, MODEL);
  assert.equal(appliedProfile(prof, same.budget, 0.2), prof, 'same ratio: the profile as it is');
  assert.equal(appliedProfile(prof, same.budget, undefined), prof);
  const policy = createPolicy({ name: 'scalekv', ratio: 0.05, profile: prof }, MODEL);
  const applied = appliedProfile(prof, policy.budget, 0.05);
  assert.equal(applied.settings.targetRatio, 0.05);
  assert.deepEqual(
    applied.scales.map((s) => s.roles),
    prof.scales.map((s) => s.roles),
    'roles are the profile’s',
  );
  const { lengths } = drive(policy, 11);
  let smaller = 0;
  applied.scales.forEach((s, si) => {
    s.roles.forEach((role, l) => {
      const b = policy.budget(l, si);
      assert.equal(s.compressed, b !== null);
      if (b === null) return;
      assert.equal(role === 'drafter' ? s.drafterBudget : s.refinerBudget, b, `layer ${l} scale ${si}`);
      assert.ok(lengths[si][l] <= b, 'the cache held no more than the recorded budget');
      if (b < (role === 'drafter' ? prof.scales[si].drafterBudget : prof.scales[si].refinerBudget)) smaller++;
    });
  });
  assert.ok(smaller > 0, 'a quarter of the ratio gives smaller budgets somewhere');
});
