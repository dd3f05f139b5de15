/**
 * The BSQ-VAE decoder graph against a float64 reference on the tiny VAE (tolerance 1e-4 x (1+max|ref|),
 * float32 over ~20 convolutions), wrapped official names load like plain ones, 3-D (video) weights are
 * refused, and bilinear resampling matches hand-computed torch values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TINY_VAE } from '../../../src/model/config';
import { makeTinyVaeWeights } from '../../../src/model/tiny/vaeTiny';
import { VaeDecoder } from '../../../src/engine/vaeDecoder';
import { interpolateBilinear } from '../../../src/model/vae';
import { gaussian, MapWeights } from '../../../src/model/weights';
import { referenceDecode } from '../../reference/vaeRef';

test('decoder matches the float64 reference (16 x 2x3 codes -> 32x48 pixels)', async () => {
  const ws = makeTinyVaeWeights(TINY_VAE);
  const z = Float32Array.from(gaussian(16 * 6, 1, 9), (v) => (v > 0 ? 0.25 : -0.25));
  const dec = await VaeDecoder.load(ws, TINY_VAE, 'cpu');
  const img = await dec.decode(z, 1, 2, 3);
  await dec.release();
  const ref = referenceDecode(TINY_VAE, ws, z, 2, 3);
  assert.equal(img.length, 3 * 32 * 48);
  let err = 0;
  let mx = 0;
  ref.forEach((r, i) => {
    err = Math.max(err, Math.abs(r - img[i]));
    mx = Math.max(mx, Math.abs(r));
  });
  console.log(`# VAE max abs error ${err.toExponential(2)} (max |ref| ${mx.toFixed(2)})`);
  assert.ok(err <= 1e-4 * (1 + mx));
});

test('wrapped names (conv.weight / norm.weight) load like plain ones; video weights are refused', async () => {
  const ws = makeTinyVaeWeights(TINY_VAE);
  const wrapped = new MapWeights(new Map());
  for (const n of ws.names()) {
    const kind = /norm/.test(n.split('.').slice(-2, -1)[0]) ? 'norm' : 'conv';
    wrapped.set(n.replace(/\.(weight|bias)$/, `.${kind}.$1`), ws.shape(n), ws.get(n));
  }
  const z = new Float32Array(16 * 4).fill(0.25);
  const a = await (await VaeDecoder.load(ws, TINY_VAE, 'cpu')).decode(z, 1, 2, 2);
  const b = await (await VaeDecoder.load(wrapped, TINY_VAE, 'cpu')).decode(z, 1, 2, 2);
  assert.deepEqual(Array.from(a), Array.from(b));
  const video = new MapWeights(new Map(ws.names().map((n) => [n, { shape: ws.shape(n), data: ws.get(n) }])));
  video.set('decoder.conv_in.weight', [128, 16, 3, 3, 3], new Float32Array(128 * 16 * 27));
  await assert.rejects(VaeDecoder.load(video, TINY_VAE, 'cpu'), /3-D \(video\) convolution/);
});

test('bilinear resampling as torch computes it (align_corners=False)', () => {
  const src = Float32Array.from([1, 2, 3, 4]);
  // 2x2 -> 4x4: torch gives these rows
  assert.deepEqual(
    Array.from(interpolateBilinear(src, 1, 2, 2, 4, 4)),
    [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4],
  );
  // down to 1x1 samples the centre: the mean of the 2x2
  assert.deepEqual(Array.from(interpolateBilinear(src, 1, 2, 2, 1, 1)), [2.5]);
  // 1x1 -> anything is constant
  assert.deepEqual(Array.from(interpolateBilinear(Float32Array.of(7), 1, 1, 1, 2, 3)), [7, 7, 7, 7, 7, 7]);
  // 4x4 -> 2x2 without antialiasing averages the centre 2x2 of each quadrant
  const g = Float32Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual(Array.from(interpolateBilinear(g, 1, 4, 4, 2, 2)), [2.5, 4.5, 10.5, 12.5]);
});
