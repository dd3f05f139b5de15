/** The thumbnail downscale against a direct float64 computation of each block's mean. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { downscaleChw } from '../../../src/model/thumbnail';
import { rng } from '../scalekv/helpers';

function reference(chw: Uint8Array, w: number, h: number, f: number): number[] {
  const W = Math.ceil(w / f);
  const H = Math.ceil(h / f);
  const out: number[] = [];
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const vals: number[] = [];
        for (let yy = y * f; yy < Math.min(h, y * f + f); yy++)
          for (let xx = x * f; xx < Math.min(w, x * f + f); xx++) vals.push(chw[c * w * h + yy * w + xx]);
        out.push(Math.round(vals.reduce((a, b) => a + b, 0) / vals.length));
      }
  return out;
}

test('downscale: block means by the smallest integer factor, edge blocks included', () => {
  const r = rng(7);
  const rnd = () => Math.floor(r() * 256);
  for (const [w, h, max, f] of [
    [7, 5, 3, 3],
    [512, 512, 256, 2],
    [1024, 576, 256, 4],
    [100, 30, 256, 1],
  ]) {
    const chw = Uint8Array.from({ length: 3 * w * h }, rnd);
    const r = downscaleChw(chw, w, h, max);
    assert.deepEqual([r.width, r.height], [Math.ceil(w / f), Math.ceil(h / f)], `${w}x${h}`);
    assert.ok(Math.max(r.width, r.height) <= max);
    assert.deepEqual([...r.data], reference(chw, w, h, f), `${w}x${h} by ${f}`);
  }
  assert.throws(() => downscaleChw(new Uint8Array(10), 2, 2), /10 values for 2x2/);
});
