// Budget allocation from a memory ratio on Infinity-2B's 1:1 13-scale schedule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScaleKVError } from '../../../src/shared/errors';
import { allocateBudgets, cacheLengths, kvBytesPerToken, summarizeMemory } from '../../../src/scalekv/budgets';
import { DEFAULT_SETTINGS } from '../../../src/scalekv/profile';
import { randInt, rng, SQUARE_SCHEDULE } from './helpers';

const DEPTH = 32;
const cum = (() => {
  let a = 0;
  return SQUARE_SCHEDULE.map((s) => (a += s.h * s.w));
})();
// the full cache the last scale reads from history: 32 layers x 6425 tokens
const F = DEPTH * cum[11];

for (const ratio of [0.04, 0.1, 0.2]) {
  test(`ratio ${ratio}: held KV (peak over scales, summed over layers) within ratio x full; refiners non-increasing`, () => {
    const plan = allocateBudgets(SQUARE_SCHEDULE, DEPTH, { ...DEFAULT_SETTINGS, targetRatio: ratio, draftersPerScale: 2 });
    assert.equal(plan.fullTokensAtLastAttention, F);
    assert.ok(plan.memoryTokens <= ratio * F);
    const compressed = plan.scales.filter((s) => s.compressed);
    assert.ok(compressed.length >= 4);
    // the first 121 tokens (scales 0..4) are never compressed
    for (let si = 0; si < 5; si++) assert.equal(plan.scales[si].compressed, false);
    for (let i = 1; i < compressed.length; i++)
      assert.ok(
        compressed[i].refinerBudget <= compressed[i - 1].refinerBudget,
        `refiner budget rises at scale ${compressed[i].scaleIndex}`,
      );
    for (const s of compressed) {
      assert.ok(s.drafterBudget >= s.refinerBudget && s.refinerBudget >= 16 && s.drafterBudget <= cum[s.scaleIndex]);
      assert.ok(plan.heldBound[s.scaleIndex] <= ratio * F);
    }
    // uncompressed scales hold whole caches: only while they are below the per-layer average budget
    for (const s of plan.scales.filter((x) => !x.compressed)) assert.ok(cum[s.scaleIndex] <= Math.max(121, plan.baseCapacity));

    // any assignment of 2 drafters per scale: held bytes after every scale within ratio x full bytes
    const r = rng(Math.round(ratio * 1000));
    const roles = SQUARE_SCHEDULE.map(() => {
      const a = randInt(r, 0, DEPTH - 1);
      let b = randInt(r, 0, DEPTH - 2);
      if (b >= a) b++;
      return new Set([a, b]);
    });
    const lengths = cacheLengths(SQUARE_SCHEDULE, DEPTH, (l, si) =>
      plan.scales[si].compressed ? (roles[si].has(l) ? plan.scales[si].drafterBudget : plan.scales[si].refinerBudget) : null,
    );
    const m = summarizeMemory(SQUARE_SCHEDULE, lengths);
    const bpt = kvBytesPerToken({ rows: 2, numHeads: 16, headDim: 128, bytesPerElement: 2 });
    assert.ok(m.peakHeld * bpt <= ratio * F * bpt, `peak ${m.peakHeld} vs ${ratio * F}`);
    assert.ok(m.peakRatio <= ratio);
    assert.ok(m.summedRatio < 1 && m.summedHeld < m.summedFull);
    // compression reaches the target: the peak is within 5% of the allowed memory
    assert.ok(m.peakHeld >= 0.95 * plan.memoryTokens, `peak ${m.peakHeld} uses the budget ${plan.memoryTokens}`);
  });
}

test('the official 10% tables follow the same rule: 650 x depth = 10.1% of the full cache the last scale reads', () => {
  assert.ok(Math.abs((650 * DEPTH) / F - 0.1012) < 1e-3);
  const plan = allocateBudgets(SQUARE_SCHEDULE, DEPTH, { ...DEFAULT_SETTINGS, targetRatio: 650 / 6425, draftersPerScale: 2 });
  assert.equal(plan.baseCapacity, 650);
  assert.equal(
    plan.scales.findIndex((s) => s.compressed),
    7,
  );
});

test('impossible budgets are refused', () => {
  const bad = (re: RegExp) => (e: unknown) => e instanceof ScaleKVError && e.code === 'E_BUDGET_INVALID' && re.test(e.message);
  assert.throws(
    () => allocateBudgets(SQUARE_SCHEDULE, DEPTH, { ...DEFAULT_SETTINGS, targetRatio: 0.001 }),
    bad(/less than the 16-token observation window.*at least 0\.0025/),
  );
  assert.throws(() => allocateBudgets(SQUARE_SCHEDULE, DEPTH, { ...DEFAULT_SETTINGS, targetRatio: 0 }), bad(/within \(0, 1\]/));
  assert.throws(() => allocateBudgets(SQUARE_SCHEDULE, DEPTH, { ...DEFAULT_SETTINGS, draftersPerScale: 33 }), bad(/Drafters per scale/));
  assert.throws(() => allocateBudgets(SQUARE_SCHEDULE, DEPTH, { ...DEFAULT_SETTINGS, refinerDecay: 1.5 }), bad(/decay/));
  assert.throws(() => allocateBudgets(SQUARE_SCHEDULE.slice(0, 1), DEPTH, DEFAULT_SETTINGS), bad(/at least two scales/));
});
