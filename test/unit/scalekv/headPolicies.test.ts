// HACK and HeatKV on constructed cases with a known right answer: a head with a vertical attention
// pattern is contextual and keeps its columns; each head keeps the source scale it attends to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SelectContext } from '../../../src/kvcache/policy';
import { HeadStatsAccumulator, verticality } from '../../../src/scalekv/headStats';
import { createPolicy } from '../../../src/scalekv/policies';
import { classifyHeads, hackBudget, hackPolicy } from '../../../src/scalekv/policies/hack';
import { heatkvBudget, heatkvPolicy } from '../../../src/scalekv/policies/heatkv';
import { ScaleKVError } from '../../../src/shared/errors';
import { rng, SQUARE_SCHEDULE } from './helpers';

// tokens 1, 3, 4, 4: cumulative 1, 4, 8, 12
const SCHEDULE = [
  { h: 1, w: 1 },
  { h: 1, w: 3 },
  { h: 2, w: 2 },
  { h: 2, w: 2 },
];
const N = 12;
const CUR = 4;

/** colsum of the last scale's 4 queries: head 0 vertical (keys 1 and 4 take most), head 1 diagonal (even over the history) */
function lastScaleColsum(): Float32Array {
  const c = new Float32Array(2 * N);
  for (let j = 0; j < N; j++) {
    c[j] = j === 1 || j === 4 ? 1.5 : j === 9 ? 0.3 : 0.07;
    c[N + j] = j < N - CUR ? 0.25 : 0.5;
  }
  return c;
}

const ctxFor = (colsum: Float32Array | null, positions = Int32Array.from({ length: 2 * N }, (_, i) => i % N)): SelectContext => ({
  layer: 0,
  scaleIndex: 3,
  schedule: SCHEDULE,
  rows: 1,
  heads: 2,
  cacheLen: N,
  curLen: CUR,
  positions,
  isLastScale: true,
  windowScores: null,
  colsum,
});

test('HACK: the vertical head is contextual and keeps its heavy columns; the diagonal head keeps the latest tokens', () => {
  const colsum = lastScaleColsum();
  assert.ok(verticality(colsum, 0, N, CUR) > 2, 'concentrated history attention');
  assert.ok(Math.abs(verticality(colsum, N, N, CUR)) < 1e-9, 'even history attention scores 0');
  const stats = new HeadStatsAccumulator(SCHEDULE, 1, 2);
  stats.add(3, 0, colsum, 1, N, CUR);
  const contextual = classifyHeads(stats.hack(), 0.5);
  assert.deepEqual(contextual, [[true, false]]);
  // uniform 3 per layer: contextual heads count half, the structural head 1.5x: the layer keeps 3
  const budget = hackBudget(() => 3, contextual, 0.5);
  assert.equal(budget(0, 3), 3);
  const sel = hackPolicy(budget, contextual).select(ctxFor(colsum))!;
  // head 0: its three heaviest columns; head 1: the current 2x2 map thinned evenly to 3 (it does not fit whole)
  assert.deepEqual([...sel.keep], [1, 4, 9, 8, 9, 11]);
  // with a budget that holds the current map, the structural head keeps the latest tokens
  assert.deepEqual(
    [
      ...hackPolicy(() => 5, [[false, false]])
        .select(ctxFor(colsum))!
        .keep.slice(0, 5),
    ],
    [7, 8, 9, 10, 11],
  );
});

test('HACK budgets: layers with more structural heads hold more; the layers together never exceed the uniform total', () => {
  const r = rng(5);
  const contextual = Array.from({ length: 8 }, () => Array.from({ length: 4 }, () => r() < 0.5));
  for (const u of [50, 643]) {
    const b = hackBudget(() => u, contextual, 0.5);
    const lens = contextual.map((_, l) => b(l, 9)!);
    assert.ok(lens.reduce((a, c) => a + c, 0) <= 8 * u && lens.reduce((a, c) => a + c, 0) >= 8 * u - 8);
    const c = contextual.map((hs) => hs.filter(Boolean).length);
    for (let l = 0; l < 8; l++) for (let m = 0; m < 8; m++) if (c[l] < c[m]) assert.ok(lens[l] >= lens[m]);
  }
});

test('HeatKV: S-CAS is the mass later scales put on each source scale; each head keeps the scale it attends to', () => {
  // head 0 attends to source scale 1 (keys 1..3), head 1 to source scale 2 (keys 4..7), from scales 2 and 3
  const stats = new HeadStatsAccumulator(SCHEDULE, 1, 2);
  for (const si of [2, 3]) {
    const len = si === 2 ? 8 : 12;
    const cur = 4;
    const c = new Float32Array(2 * len);
    for (let j = 0; j < len; j++) {
      c[j] = (j >= 1 && j <= 3 ? 0.8 / 3 : j >= len - cur ? 0.2 / cur : 0) * cur;
      c[len + j] = (j >= 4 && j <= 7 && j < len - cur ? 0.8 / 4 : j >= len - cur ? (si === 2 ? 1 : 0.2) / cur : 0) * cur;
    }
    stats.add(si, 0, c, 1, len, cur);
  }
  const scas = stats.heat().scas[0];
  assert.ok(Math.abs(scas[0][1] - 0.8) < 1e-6, `head 0 on scale 1: ${scas[0][1]}`);
  assert.ok(Math.abs(scas[1][2] - 0.8) < 1e-6 && Math.abs(scas[1][1]) < 1e-9);
  // 12 tokens per head; a budget of 6 per layer must remove 6 head-tokens on average
  const budget = heatkvBudget((_l, si) => (si === 3 ? 6 : null), stats.heat(), SCHEDULE, 1);
  assert.equal(budget(0, 2), null);
  assert.ok(budget(0, 3)! <= 6);
  const sel = heatkvPolicy(budget, stats.heat(), SCHEDULE, 1).select(ctxFor(null))!;
  const per = sel.perHead;
  const head0 = [...sel.keep.slice(0, per)];
  const head1 = [...sel.keep.slice(per)];
  assert.ok(
    [0, 1, 2, 3].every((j) => head0.includes(j)),
    `head 0 keeps the sink and scale 1: ${head0}`,
  );
  assert.ok([0, 4, 5, 6, 7].every((j) => head1.includes(j)) || per < 5, `head 1 keeps the sink and scale 2: ${head1}`);
  assert.ok(!head1.includes(1) && !head0.includes(4), 'neither keeps the scale the other attends to');
});

test('hack and heatkv need calibrated per-head statistics; bad options are refused', () => {
  const model = { depth: 1, numHeads: 2, headDim: 8, schedule: SQUARE_SCHEDULE };
  assert.throws(
    () => createPolicy({ name: 'hack', ratio: 0.1 }, model),
    (e: unknown) => e instanceof ScaleKVError && /hack needs a profile/.test(e.message),
  );
  assert.throws(
    () => createPolicy({ name: 'heatkv', ratio: 0.1, heatSinkScales: -1 }, model),
    (e: unknown) => e instanceof ScaleKVError && /heatSinkScales/.test(e.message),
  );
  assert.throws(
    () => createPolicy({ name: 'bogus' as 'hack' }, model),
    (e: unknown) =>
      e instanceof ScaleKVError &&
      e.code === 'E_INVALID_REQUEST' &&
      /Valid policies: full, scalekv, local, h2o, snapkv, amskv, hack, heatkv/.test(e.message),
  );
  assert.throws(
    () => createPolicy({ name: 'snapkv', ratio: 0 }, model),
    (e: unknown) => e instanceof ScaleKVError && /within \(0, 1\]/.test(e.message),
  );
});

test("HeatKV keeps the authors' four sink scales where they fit a layer's budget, fewer where they do not", async () => {
  const { fittingSinkScales } = await import('../../../src/scalekv/policies/heatkv');
  assert.equal(fittingSinkScales(SQUARE_SCHEDULE, 643), 4);
  assert.equal(fittingSinkScales(SQUARE_SCHEDULE, 26), 3);
  assert.equal(fittingSinkScales(SQUARE_SCHEDULE, 0), 0);
});
