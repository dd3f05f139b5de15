// Official budget tables: cache sizes and per-scale cache lengths as the official code derives them
// (derived again here, independently, from the JSON), byte-exact export, and refusals.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ScaleKVError } from '../../../src/shared/errors';
import type { OfficialBudgetTable } from '../../../src/shared/types';
import {
  formatOfficialTable,
  officialCacheSizes,
  parseOfficialTable,
  simulateCacheLengths,
  tableDepth,
  validateOfficialTable,
} from '../../../src/scalekv/officialBudget';
import { profileCacheLengths, profileFromOfficial, profileToOfficial } from '../../../src/scalekv/profile';
import { FIXTURES, SQUARE_SCHEDULE } from './helpers';

const TABLES = [
  { file: 'infinity-2b-10pct.json', depth: 32, heads: 16, drafters: [2, 2, 2, 2, 1] },
  { file: 'infinity-8b-10pct.json', depth: 40, heads: 24, drafters: [3, 3, 3, 3, 3] },
];
const read = (f: string) => readFileSync(join(FIXTURES, 'official-budgets', f), 'utf8');
const cum = (() => {
  let a = 0;
  return SQUARE_SCHEDULE.map((s) => (a += s.h * s.w));
})();

/** get_cache_sizes, written out again: slot N = per-block Max (1) or Min (0) of "Scale N" */
function independentSizes(raw: Record<string, Record<string, number>>, depth: number): (number[] | null)[] {
  const out: (number[] | null)[] = [];
  for (let n = 0; n < 14; n++) {
    if (n < 9) out.push(null);
    else if (!raw[`Scale ${n}`]) out.push([]);
    else
      out.push(
        Array.from({ length: depth }, (_, b) => (raw[`Scale ${n}`][`Block ${b}`] === 1 ? raw[`Scale ${n}`].Max : raw[`Scale ${n}`].Min)),
      );
  }
  return out;
}

/** update_kv's length bookkeeping for one layer over a 13-scale generation with base capacity 650 */
function independentLengths(sizes: (number[] | null)[], layer: number): number[] {
  let len = 0;
  let reached = false;
  const out: number[] = [];
  for (let si = 0; si < 13; si++) {
    const keyLen = len + SQUARE_SCHEDULE[si].h * SQUARE_SCHEDULE[si].w;
    if (keyLen <= 650 && !reached) len = keyLen;
    else {
      reached = true;
      const slot = si === 12 ? 13 : si + 2;
      const cap = sizes[slot]![layer] ?? 650;
      len = keyLen <= cap ? keyLen : cap;
    }
    out.push(len);
  }
  return out;
}

const expectCode = (code: string, re: RegExp) => (e: unknown) => e instanceof ScaleKVError && e.code === code && re.test(e.message);

for (const T of TABLES) {
  test(`${T.file}: cache sizes and cache lengths as the official code derives them`, () => {
    const text = read(T.file);
    const raw = JSON.parse(text);
    const t = parseOfficialTable(text, T.file);
    assert.equal(tableDepth(t), T.depth);
    validateOfficialTable(t, T.depth, SQUARE_SCHEDULE, T.file);
    const sizes = officialCacheSizes(t, T.depth);
    assert.deepEqual(sizes, independentSizes(raw, T.depth));
    const sim = simulateCacheLengths(t, T.depth, SQUARE_SCHEDULE, 650);
    for (let l = 0; l < T.depth; l++)
      assert.deepEqual(
        sim.map((s) => s[l]),
        independentLengths(sizes, l),
        `layer ${l}`,
      );
    // nothing is evicted up to 16x16 (521 tokens <= 650); from 20x20 on every table keeps 650 x depth
    for (let si = 0; si < 7; si++) assert.ok(sim[si].every((v) => v === cum[si]));
    for (let si = 7; si < 13; si++)
      assert.equal(
        sim[si].reduce((a, b) => a + b, 0),
        650 * T.depth,
        `scale ${si}`,
      );
    // drafters per key as recorded in High
    assert.deepEqual(
      [9, 10, 11, 12, 13].map((n) => raw[`Scale ${n}`].High),
      T.drafters,
    );
  });

  test(`${T.file}: export(import(table)) is byte-identical, directly and through a profile`, () => {
    const text = read(T.file);
    assert.match(text, /^\{\n {2}"Scale 9": \{\n {4}"Block 0"/, 'the shipped files use 2-space indentation');
    assert.equal(formatOfficialTable(parseOfficialTable(text)), text);
    const model = { name: T.file, depth: T.depth, numHeads: T.heads, headDim: 128, schedule: SQUARE_SCHEDULE };
    const p = profileFromOfficial(parseOfficialTable(text), model, T.file);
    assert.equal(formatOfficialTable(profileToOfficial(p)), text);
    // the profile's own bookkeeping agrees with the update_kv simulation
    assert.deepEqual(profileCacheLengths(p), simulateCacheLengths(parseOfficialTable(text), T.depth, SQUARE_SCHEDULE));
    assert.deepEqual(
      p.scales.map((s) => s.compressed),
      cum.map((c, si) => si >= 7 && c > 650),
    );
  });
}

test('mismatching tables are refused with messages naming the scale, block and value', () => {
  const base = () => JSON.parse(read('infinity-2b-10pct.json')) as OfficialBudgetTable;
  const check = (t: OfficialBudgetTable, re: RegExp, depth = 32, schedule = SQUARE_SCHEDULE) =>
    assert.throws(() => validateOfficialTable(t, depth, schedule, 'table.json'), expectCode('E_BUDGET_INVALID', re));

  check(base(), /"Scale 9" lists 32 blocks, but the model has 40 layers/, 40);
  let t = base();
  t['Scale 9'].Max = 5000;
  check(t, /"Scale 9": drafter budget Max = 5000 is larger than the 921 tokens cached at scale 7 \(20x20\)/);
  t = base();
  t['Scale 10'].Min = 2000;
  check(t, /"Scale 10": refiner budget Min = 2000 is larger than drafter budget Max = 1490/);
  t = base();
  delete t['Scale 11'];
  check(t, /"Scale 11" is missing; scale 9 \(32x32\)/);
  t = base();
  t['Scale 12']['Block 5'] = 2;
  check(t, /"Scale 12"\."Block 5" must be 1 \(drafter\) or 0 \(refiner\), got 2/);
  t = base();
  t['Scale 12']['Block 5'] = 1;
  check(t, /"Scale 12"\.High = 2, but 3 blocks are marked as drafters/);
  t = base();
  t['Scale 14'] = { ...t['Scale 13'] };
  check(t, /"Scale 14" cannot be used/);
  // a 0.60M (12-scale) schedule never reads beyond "Scale 13", but a 10-scale one cannot use it
  check(base(), /"Scale 12" cannot be used/, 32, SQUARE_SCHEDULE.slice(0, 10));
  assert.throws(() => parseOfficialTable('{"Scale 9": ', 'x.json'), expectCode('E_BUDGET_INVALID', /x\.json is not valid JSON/));
  assert.throws(
    () => parseOfficialTable('{"Scale 9": {"Block 0": "1"}}', 'x.json'),
    expectCode('E_BUDGET_INVALID', /"Scale 9"\."Block 0" must be a number/),
  );
  assert.throws(() => parseOfficialTable('{"Level 9": {}}', 'x.json'), expectCode('E_BUDGET_INVALID', /Level 9/));
});

test('a table missing a key falls back to the base capacity in the simulation, as the official code does', () => {
  const t = parseOfficialTable(read('infinity-2b-10pct.json'));
  delete t['Scale 10'];
  const sim = simulateCacheLengths(t, 32, SQUARE_SCHEDULE, 650);
  assert.ok(sim[8].every((v) => v === 650));
});
