// ASI from colsums: a layer spreading attention over history is the drafter; the accumulator resumes
// from JSON to the same result.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AsiAccumulator, asiFromColsum } from '../../../src/scalekv/asi';
import { rng } from './helpers';

const HEADS = 2;
const ROWS = 1;

/** colsum [rows][heads][cacheLen] for one layer; `kind` shapes where attention goes */
function colsum(kind: 'current' | 'spread' | 'peaked', cacheLen: number, curLen: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(ROWS * HEADS * cacheLen);
  const hist = cacheLen - curLen;
  for (let rh = 0; rh < ROWS * HEADS; rh++) {
    for (let j = 0; j < cacheLen; j++) {
      let v: number;
      if (kind === 'current') v = j >= hist ? 1 + r() : 0;
      else if (kind === 'spread') v = 1 + 0.01 * r();
      else v = j < 2 ? 50 : j >= hist ? 1 : 0.01 * r();
      out[rh * cacheLen + j] = v * curLen; // summed over the scale's queries
    }
  }
  return out;
}

const SCALES = [
  { cacheLen: 57, curLen: 36 },
  { cacheLen: 121, curLen: 64 },
  { cacheLen: 265, curLen: 144 },
];
const KINDS = ['current', 'spread', 'peaked', 'current'] as const;

test('ASI: attention on the current map scores 1, spread-out attention scores lowest and drafts', () => {
  const acc = new AsiAccumulator(KINDS.length, HEADS, SCALES.length);
  SCALES.forEach((s, si) =>
    KINDS.forEach((k, l) => acc.add(si, l, colsum(k, s.cacheLen, s.curLen, si * 10 + l), ROWS, s.cacheLen, s.curLen)),
  );
  const { perLayer } = acc.means();
  for (let si = 0; si < SCALES.length; si++) {
    assert.ok(Math.abs(perLayer[si][0] - 1) < 1e-12, 'current-map layer');
    // evenly spread: share of current keys plus the top 10% of history keys
    const { cacheLen, curLen } = SCALES[si];
    const hist = cacheLen - curLen;
    const expected = (curLen + Math.ceil(0.1 * hist)) / cacheLen;
    assert.ok(Math.abs(perLayer[si][1] - expected) < 0.01, `spread layer ${perLayer[si][1]} vs ${expected}`);
    assert.ok(perLayer[si][1] < perLayer[si][2] && perLayer[si][2] < perLayer[si][0], 'a few heavy history keys sit between');
  }
  const roles = acc.classify(1);
  for (const r of roles) assert.deepEqual(r, ['refiner', 'drafter', 'refiner', 'refiner']);
  assert.deepEqual(acc.classify(2)[2], ['refiner', 'drafter', 'drafter', 'refiner']);
});

test('ASI of one head: explicit numbers', () => {
  // 10 history keys (one holds 4 of 10 history units) and 2 current keys holding 10 units
  const c = [4, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 5, 5];
  assert.ok(Math.abs(asiFromColsum(c, 0, 12, 2) - (10 + 4) / 20) < 1e-12);
  assert.equal(asiFromColsum([0, 0, 0], 0, 3, 1), 1, 'no attention measured: no evidence of drafting');
  assert.equal(asiFromColsum([1, 2, 3], 0, 3, 3), 1, 'no history');
});

test('the accumulator survives a JSON round trip mid-calibration and resumes to the same result', () => {
  const feed = (acc: AsiAccumulator, from: number, to: number) => {
    for (let p = from; p < to; p++) {
      SCALES.forEach((s, si) =>
        KINDS.forEach((k, l) => acc.add(si, l, colsum(k, s.cacheLen, s.curLen, 1000 * p + si * 10 + l), ROWS, s.cacheLen, s.curLen)),
      );
      acc.state.prompts = p + 1;
    }
  };
  const whole = new AsiAccumulator(KINDS.length, HEADS, SCALES.length);
  feed(whole, 0, 4);
  const first = new AsiAccumulator(KINDS.length, HEADS, SCALES.length);
  feed(first, 0, 2);
  const resumed = AsiAccumulator.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
  assert.equal(resumed.state.prompts, 2);
  feed(resumed, 2, 4);
  assert.deepEqual(resumed.means(), whole.means());
  assert.deepEqual(resumed.classify(1), whole.classify(1));
  const broken = JSON.parse(JSON.stringify(first.toJSON()));
  broken.sum[1].pop();
  assert.throws(() => AsiAccumulator.fromJSON(broken), /malformed/);
});
