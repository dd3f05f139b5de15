/**
 * Checkpoint formats: files written by real PyTorch (fp32, fp16, bf16, int64, non-contiguous views
 * sharing a storage, nested dicts) read back exactly; our torch.save-compatible writer and the
 * safetensors writer round-trip (and torch.load(weights_only=True) reads our .pth: checked with
 * make_fixtures.py where PyTorch is installed); sharded indexes; reading one tensor reads only its
 * bytes; damaged files give clear errors.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { CheckpointWeights, openCheckpoint } from '../../../src/checkpoint';
import { writePth } from '../../../src/checkpoint/pthWriter';
import { writeSafetensors } from '../../../src/checkpoint/safetensors';
import { INFINITY_TINY } from '../../../src/model/config';
import { makeTinyInfinityWeights } from '../../../src/model/tiny/infinityTiny';
import type { ScaleKVError } from '../../../src/shared/errors';
import { tempDir } from '../engine/helpers';

const FIX = resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'checkpoint');

test('tensors saved by PyTorch read back exactly, views and dtypes included', () => {
  const exp = JSON.parse(readFileSync(join(FIX, 'torch_expected.json'), 'utf8'));
  const r = openCheckpoint(join(FIX, 'torch_flat.pth'));
  assert.equal(r.format, 'pth');
  for (const [k, vals] of Object.entries(exp.values as Record<string, number[]>)) {
    assert.deepEqual(r.info(k).shape, exp.shapes[k], k);
    const got = r.readFloat32(k);
    assert.equal(got.length, vals.length, k);
    // fp16/bf16 values were exported by torch after conversion to float: compare exactly in float32
    vals.forEach((v, i) => assert.equal(got[i], Math.fround(v), `${k}[${i}]`));
  }
  assert.equal(r.info('w16').dtype, 'float16');
  assert.equal(r.info('wbf16').dtype, 'bfloat16');
  r.close();
  const n = openCheckpoint(join(FIX, 'torch_nested.pth'));
  const w = new CheckpointWeights(n, 'vae.');
  assert.deepEqual(w.shape('decoder.conv_in.weight'), [4, 2, 3, 3]);
  assert.deepEqual(Array.from(w.get('decoder.conv_in.weight')), (exp.nested as number[]).map(Math.fround));
  n.close();
});

test('our .pth writer round-trips, deterministically, and a tensor read touches only its bytes', () => {
  const ws = makeTinyInfinityWeights(INFINITY_TINY);
  const tree: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const k of ws.names()) tree[k] = { shape: ws.shape(k), data: ws.get(k) };
  const dir = tempDir('ckpt');
  writePth(join(dir, 'a.pth'), tree);
  writePth(join(dir, 'b.pth'), tree);
  assert.ok(readFileSync(join(dir, 'a.pth')).equals(readFileSync(join(dir, 'b.pth'))), 'same tensors, same bytes');
  const r = openCheckpoint(join(dir, 'a.pth'));
  assert.equal(r.keys().length, ws.names().length);
  const name = 'block_chunks.0.module.1.ffn.fc1.weight';
  assert.deepEqual(Array.from(r.readFloat32(name)), Array.from(ws.get(name)));
  assert.equal(r.bytesRead, ws.get(name).length * 4);
  r.close();
});

test('safetensors round-trip and a sharded index presents one checkpoint', () => {
  const dir = tempDir('st');
  writeSafetensors(join(dir, 'p1.safetensors'), [{ name: 'a', dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }]);
  writeSafetensors(join(dir, 'p2.safetensors'), [{ name: 'b', dtype: 'float32', shape: [3], data: Float32Array.from([5, 6, 7]) }]);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'p1.safetensors', b: 'p2.safetensors' } }));
  const r = openCheckpoint(join(dir, 'model.safetensors.index.json'));
  assert.equal(r.format, 'sharded');
  assert.deepEqual(Array.from(r.readFloat32('a')), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(r.readFloat32('b')), [5, 6, 7]);
  r.close();
});

test('damaged files: truncated safetensors, a missing shard, a non-checkpoint, a missing file', () => {
  const dir = tempDir('bad');
  writeSafetensors(join(dir, 'x.safetensors'), [{ name: 'a', dtype: 'float32', shape: [100], data: new Float32Array(100) }]);
  const b = readFileSync(join(dir, 'x.safetensors'));
  writeFileSync(join(dir, 'cut.safetensors'), b.subarray(0, b.length - 10));
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e as ScaleKVError;
    }
    assert.fail('expected an error');
  };
  const e1 = err(() => openCheckpoint(join(dir, 'cut.safetensors')));
  assert.equal(e1.code, 'E_CHECKPOINT_TRUNCATED');
  assert.match(e1.message, /cut\.safetensors is truncated: tensor 'a'/);
  writeFileSync(join(dir, 'i.index.json'), JSON.stringify({ weight_map: { a: 'gone.safetensors' } }));
  assert.equal(err(() => openCheckpoint(join(dir, 'i.index.json'))).code, 'E_CHECKPOINT_MISSING');
  writeFileSync(join(dir, 'notes.pth'), 'hello, not a checkpoint');
  assert.equal(err(() => openCheckpoint(join(dir, 'notes.pth'))).code, 'E_CHECKPOINT_CORRUPT');
  assert.equal(err(() => openCheckpoint(join(dir, 'nope.pth'))).code, 'E_CHECKPOINT_MISSING');
});
