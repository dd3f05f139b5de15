// The official budget rule: every row of both shipped 10% tables regenerated exactly from their drafter
// sets; the author's 4% and 20% start scales; ratios outside (0, 1] refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ScaleKVError } from '../../../src/shared/errors';
import type { LayerRole, OfficialBudgetTable } from '../../../src/shared/types';
import { formatOfficialTable, parseOfficialTable, scaleIndexOfKey } from '../../../src/scalekv/officialBudget';
import { checkRatio, officialPlan, uniformTokensPerLayer } from '../../../src/scalekv/officialRule';
import { createProfile, profileCacheLengths, profileToOfficial } from '../../../src/scalekv/profile';
import { FIXTURES, SQUARE_SCHEDULE } from './helpers';

const TABLES = [
  { file: 'infinity-2b-10pct.json', depth: 32 },
  { file: 'infinity-8b-10pct.json', depth: 40 },
];
const read = (f: string) => readFileSync(join(FIXTURES, 'official-budgets', f), 'utf8');

/** drafters of the table row update_kv reads at scale si (the last scale reads the row before) */
function rolesFrom(t: OfficialBudgetTable, depth: number): LayerRole[][] {
  return SQUARE_SCHEDULE.map((_, si) => {
    const e = t[`Scale ${Math.min(si, 11) + 2}`];
    return Array.from({ length: depth }, (_, l) => (e && e[`Block ${l}`] === 1 ? 'drafter' : 'refiner'));
  });
}

for (const { file, depth } of TABLES) {
  test(`${file}: every row (Limit, Max, Min, High) follows from its drafters with B = 650, and the table regenerates byte for byte`, () => {
    const text = read(file);
    const t = parseOfficialTable(text, file);
    const plan = officialPlan(SQUARE_SCHEDULE, depth, (si) => t[`Scale ${si + 2}`]?.High ?? 0, { tokensPerLayer: 650, windowSize: 16 });
    assert.equal(plan.start, 7);
    assert.equal(plan.refinerFloor, 200);
    for (const [key, row] of Object.entries(t)) {
      const r = plan.rows[scaleIndexOfKey(key)]!;
      assert.deepEqual(
        { Limit: r.limit, Max: r.max, Min: r.min, High: r.drafters },
        { Limit: row.Limit, Max: row.Max, Min: row.Min, High: row.High },
        key,
      );
    }
    for (let si = 0; si < 7; si++) assert.equal(plan.rows[si], null, `scale ${si} stays whole`);
    assert.deepEqual(plan.rows[12], { ...plan.rows[11], scaleIndex: 12 }, 'the last scale reuses the row before');
    const model = { name: file, depth, numHeads: 16, headDim: 128, schedule: SQUARE_SCHEDULE };
    const p = createProfile({
      model,
      settings: { budgetRule: 'official', tokensPerLayer: 650 },
      roles: rolesFrom(t, depth),
      origin: 'test',
    });
    assert.equal(p.settings.budgetRule, 'official');
    assert.equal(formatOfficialTable(profileToOfficial(p)), text);
    // every compressed scale spends B x depth tokens in total, except where the floor binds (8B's last row)
    const held = profileCacheLengths(p).map((ls) => ls.reduce((a, b) => a + b, 0));
    for (let si = 7; si < 12; si++) assert.ok(held[si] <= 650 * depth, `scale ${si} holds ${held[si]}`);
  });
}

test("the floor binds only in the 8B table's last row, where Max becomes 6200", () => {
  const t = parseOfficialTable(read('infinity-8b-10pct.json'));
  const noFloor = officialPlan(SQUARE_SCHEDULE, 40, (si) => t[`Scale ${si + 2}`]?.High ?? 0, {
    tokensPerLayer: 650,
    windowSize: 16,
    floor: 16,
  });
  const withFloor = officialPlan(SQUARE_SCHEDULE, 40, (si) => t[`Scale ${si + 2}`]?.High ?? 0, { tokensPerLayer: 650, windowSize: 16 });
  for (let si = 7; si < 11; si++) assert.deepEqual(noFloor.rows[si], withFloor.rows[si]);
  assert.ok(noFloor.rows[11]!.min < 200 && noFloor.rows[11]!.max > 6200);
  assert.deepEqual([withFloor.rows[11]!.max, withFloor.rows[11]!.min], [6200, 200]);
});

test('B from a ratio is ratio x the tokens before the last scale; 4%, 10% and 20% start at scale indices 6, 7 and 8', () => {
  assert.equal(uniformTokensPerLayer(0.1, SQUARE_SCHEDULE), 643);
  assert.equal(uniformTokensPerLayer(0.04, SQUARE_SCHEDULE), 257);
  assert.equal(uniformTokensPerLayer(0.2, SQUARE_SCHEDULE), 1285);
  for (const [depth, nd] of [
    [32, 2],
    [40, 3],
  ]) {
    for (const [ratio, start] of [
      [0.04, 6],
      [0.1, 7],
      [0.2, 8],
    ]) {
      const plan = officialPlan(SQUARE_SCHEDULE, depth, () => nd, {
        tokensPerLayer: uniformTokensPerLayer(ratio, SQUARE_SCHEDULE),
        windowSize: 16,
      });
      assert.equal(plan.start, start, `depth ${depth}, ratio ${ratio}`);
      for (const r of plan.rows.filter((x) => x !== null)) {
        assert.ok(r.max > plan.tokensPerLayer && r.min <= plan.tokensPerLayer && r.min >= 16);
        assert.ok(nd * r.max + (depth - nd) * r.min <= depth * plan.tokensPerLayer);
      }
    }
  }
  // 4%: the cache at index 5 (265 tokens) passes B = 257 by less than one drafter step (15 tokens for 2B)
  const p4 = officialPlan(SQUARE_SCHEDULE, 32, () => 2, { tokensPerLayer: 257, windowSize: 16 });
  assert.deepEqual(p4.rows[6], { scaleIndex: 6, limit: 521, max: 512, min: 240, drafters: 2 });
  // a scale without drafters compresses as soon as its cache passes B (every layer keeps B)
  const none = officialPlan(SQUARE_SCHEDULE, 32, () => 0, { tokensPerLayer: 257, windowSize: 16 });
  assert.equal(none.start, 5);
  assert.deepEqual([none.rows[5]!.max, none.rows[5]!.min], [257, 257]);
});

test('ratios outside (0, 1] and budgets below the window are refused with E_BUDGET_INVALID', () => {
  const code = (re: RegExp) => (e: unknown) => e instanceof ScaleKVError && e.code === 'E_BUDGET_INVALID' && re.test(e.message);
  for (const r of [0, -0.1, 1.5, NaN]) assert.throws(() => uniformTokensPerLayer(r, SQUARE_SCHEDULE), code(/within \(0, 1\]/));
  assert.doesNotThrow(() => checkRatio(1));
  assert.throws(() => officialPlan(SQUARE_SCHEDULE, 32, () => 2, { tokensPerLayer: 10, windowSize: 16 }), code(/observation window/));
});
