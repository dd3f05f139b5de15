/**
 * Deterministic mutation fuzzing of the checkpoint readers: bytes of real fixtures (files PyTorch wrote,
 * our safetensors, a shard index) overwritten, truncated or spliced with a seeded generator. Every
 * mutant either opens and reads, or fails with a ScaleKVError carrying an E_ code: never a TypeError,
 * RangeError or a raw Node error. A mutant that fails is printed with its seed so it can be replayed.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { openCheckpoint } from '../../../src/checkpoint';
import { writeSafetensors } from '../../../src/checkpoint/safetensors';
import { ScaleKVError } from '../../../src/shared/errors';
import { tempDir } from '../engine/helpers';
import { randInt, rng } from '../scalekv/helpers';

const FIX = resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'checkpoint');
const MUTANTS = 200;
const EDGE = [0x00, 0xff, 0x7f, 0x80, 0x2e, 0x28, 0x51, 0x52, 0x68, 0x71, 0x8b, 0x7d, 0x5d, 0x2d, 0x7b, 0x22];

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  switch (randInt(r, 0, 4)) {
    case 0: // a few random bytes
      for (let i = randInt(r, 1, 8); i > 0; i--) b[randInt(r, 0, b.length - 1)] = randInt(r, 0, 255);
      return b;
    case 1: // opcodes and JSON punctuation at random places
      for (let i = randInt(r, 1, 4); i > 0; i--) b[randInt(r, 0, b.length - 1)] = EDGE[randInt(r, 0, EDGE.length - 1)];
      return b;
    case 2: // an extreme 32-bit value (sizes, offsets, counts)
      b.writeUInt32LE([0, 0xffffffff, 0x7fffffff, 0x80000000, 0x10000][randInt(r, 0, 4)], randInt(r, 0, b.length - 4));
      return b;
    case 3: // truncated
      return b.subarray(0, randInt(r, 0, b.length - 1));
    default: {
      // a span copied over another
      const n = randInt(r, 1, 64);
      const from = randInt(r, 0, b.length - n);
      src.copy(b, randInt(r, 0, b.length - n), from, from + n);
      return b;
    }
  }
}

function fuzz(name: string, src: Buffer, ext: string, seed: number, setup?: (dir: string) => void): Record<string, number> {
  const dir = tempDir(`fuzz-${name}`);
  setup?.(dir);
  const path = join(dir, `mutant${ext}`);
  const outcomes: Record<string, number> = {};
  const r = rng(seed);
  for (let i = 0; i < MUTANTS; i++) {
    writeFileSync(path, mutate(src, r));
    let outcome = 'read';
    try {
      const c = openCheckpoint(path);
      try {
        for (const k of c.keys()) c.readFloat32(k);
      } finally {
        c.close();
      }
    } catch (e) {
      if (!(e instanceof ScaleKVError) || !/^E_[A-Z_]+$/.test(e.code)) {
        assert.fail(`${name} mutant ${i} (seed ${seed}) threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
      }
      outcome = e.code;
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return outcomes;
}

test('mutated .pth files written by PyTorch fail only with ScaleKVErrors', { timeout: 60000 }, () => {
  for (const [f, seed] of [
    ['torch_flat.pth', 1],
    ['torch_nested.pth', 2],
  ] as const) {
    const o = fuzz(f, readFileSync(join(FIX, f)), '.pth', seed);
    assert.ok((o.E_CHECKPOINT_CORRUPT ?? 0) + (o.E_CHECKPOINT_TRUNCATED ?? 0) > MUTANTS / 4, `${f}: ${JSON.stringify(o)}`);
  }
});

test('mutated safetensors and shard indexes fail only with ScaleKVErrors', { timeout: 60000 }, () => {
  const dir = tempDir('fuzz-src');
  const st = join(dir, 'x.safetensors');
  writeSafetensors(st, [
    { name: 'a', dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'b.weight', dtype: 'float32', shape: [4], data: Float32Array.from([7, 8, 9, 10]) },
  ]);
  const o = fuzz('safetensors', readFileSync(st), '.safetensors', 3);
  assert.ok((o.E_CHECKPOINT_CORRUPT ?? 0) > 0 && (o.read ?? 0) > 0, JSON.stringify(o));
  const index = Buffer.from(
    JSON.stringify({ metadata: { total_size: 40 }, weight_map: { a: 'p1.safetensors', 'b.weight': 'p1.safetensors' } }),
  );
  const oi = fuzz('index', index, '.index.json', 4, (d) => writeFileSync(join(d, 'p1.safetensors'), readFileSync(st)));
  assert.ok((oi.E_CHECKPOINT_CORRUPT ?? 0) > 0, JSON.stringify(oi));
});
