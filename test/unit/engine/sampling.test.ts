/**
 * Bitwise sampling: guidance mixes cfg*cond + (1-cfg)*uncond, top-k=1 is greedy, top-p drops the
 * less likely bit when its mass is within 1-top_p, frequencies follow the softmax (binomial 5-sigma
 * bound), and a seed fixes the draw.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, sampleBits, sampleTwoWay } from '../../../src/engine/sampling';

test('greedy and top-p rules', () => {
  const rng = new Rng(1);
  assert.equal(sampleTwoWay(0.1, 2, 1, 0, rng), 1);
  assert.equal(sampleTwoWay(3, 2, 1, 0, rng), 0);
  // p(1) = sigmoid(-4) = 0.018 <= 1 - 0.97: bit 1 is removed
  for (let i = 0; i < 50; i++) assert.equal(sampleTwoWay(4, 0, 0, 0.97, rng), 0);
});

test('frequencies follow the two-way softmax', () => {
  const rng = new Rng(7);
  const n = 20000;
  const p0 = 1 / (1 + Math.exp(-0.7)); // logits 0.7 vs 0
  let zeros = 0;
  for (let i = 0; i < n; i++) if (sampleTwoWay(0.7, 0, 0, 0, rng) === 0) zeros++;
  const sd = Math.sqrt(n * p0 * (1 - p0));
  assert.ok(Math.abs(zeros - n * p0) < 5 * sd, `${zeros} zeros, expected ${n * p0} ± ${5 * sd}`);
});

test('guidance mixes the conditional and unconditional logits; a seed fixes the bits', () => {
  // one token, d = 1: cond logits (2, 0), uncond (0, 2), cfg 3 -> (6, -4): bit 0 with top-k 1
  const logits = Float32Array.from([2, 0, 0, 2]);
  assert.deepEqual(Array.from(sampleBits(logits, 1, 1, 1, { cfg: 3, tau: 1, topK: 1, topP: 0 }, new Rng(0))), [0]);
  // cfg -1 flips it: -1*(2,0) + 2*(0,2) = (-2, 4)
  assert.deepEqual(Array.from(sampleBits(logits, 1, 1, 1, { cfg: -1, tau: 1, topK: 1, topP: 0 }, new Rng(0))), [1]);
  const big = Float32Array.from({ length: 2 * 64 * 2 * 8 }, (_, i) => Math.sin(i));
  const a = sampleBits(big, 1, 64, 8, { cfg: 2, tau: 1, topK: 0, topP: 0 }, new Rng(5));
  const b = sampleBits(big, 1, 64, 8, { cfg: 2, tau: 1, topK: 0, topP: 0 }, new Rng(5));
  const c = sampleBits(big, 1, 64, 8, { cfg: 2, tau: 1, topK: 0, topP: 0 }, new Rng(6));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});
