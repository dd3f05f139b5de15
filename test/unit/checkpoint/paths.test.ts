/**
 * Model folders: shard indexes and manifest.json may name only files inside their folder (the Hugging
 * Face cache's snapshot links into its blobs/ folder excepted); the folder scan skips one bad entry
 * with a note instead of failing, and names the damaged checkpoint instead of calling it missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openCheckpoint } from '../../../src/checkpoint';
import { locateModel } from '../../../src/checkpoint/modelFolder';
import { writeSafetensors } from '../../../src/checkpoint/safetensors';
import { readT5Config } from '../../../src/model/t5Config';
import { UnigramTokenizer } from '../../../src/model/tokenizer/unigram';
import { ScaleKVError } from '../../../src/shared/errors';
import { tempDir, TINY } from '../engine/helpers';

function thrown(f: () => unknown): ScaleKVError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ScaleKVError, `expected a ScaleKVError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    return e;
  }
  assert.fail('expected an error');
}

const shard = (path: string, v: number) =>
  writeSafetensors(path, [{ name: 'a', dtype: 'float32', shape: [1], data: Float32Array.from([v]) }]);

test('a shard index may not name files outside its folder, directly or through a link', () => {
  const base = tempDir('confine');
  const dir = join(base, 'model');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  shard(join(base, 'outside.safetensors'), 1);
  shard(join(dir, 'sub', 'inside.safetensors'), 2);
  symlinkSync(join(base, 'outside.safetensors'), join(dir, 'link.safetensors'));
  const idx = join(dir, 'model.safetensors.index.json');
  const cases: [unknown, RegExp][] = [
    ['../outside.safetensors', /names the shard of tensor 'a' '\.\.\/outside\.safetensors', which points outside the folder/],
    [join(base, 'outside.safetensors'), /which is an absolute path/],
    ['sub/../../outside.safetensors', /which points outside the folder/],
    ['link.safetensors', /'link\.safetensors', which is a link to .*outside\.safetensors, outside the folder/],
  ];
  for (const [name, msg] of cases) {
    writeFileSync(idx, JSON.stringify({ weight_map: { a: name } }));
    const e = thrown(() => openCheckpoint(idx));
    assert.equal(e.code, 'E_CHECKPOINT_CORRUPT', String(name));
    assert.match(e.message, msg, String(name));
  }
  writeFileSync(idx, JSON.stringify({ weight_map: { a: 'sub/inside.safetensors' } }));
  assert.deepEqual(Array.from(openCheckpoint(idx).readFloat32('a')), [2], 'a subfolder of the model folder is inside it');
});

test('a Hugging Face cache snapshot may link into its own blobs/ folder, and no further', () => {
  const base = tempDir('hub');
  const repo = join(base, 'models--google--flan-t5-xl');
  const snap = join(repo, 'snapshots', 'abc123');
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(repo, 'blobs'));
  shard(join(repo, 'blobs', 'deadbeef'), 3);
  symlinkSync('../../blobs/deadbeef', join(snap, 'model-00001-of-00001.safetensors'));
  const idx = join(snap, 'model.safetensors.index.json');
  writeFileSync(idx, JSON.stringify({ weight_map: { a: 'model-00001-of-00001.safetensors' } }));
  assert.deepEqual(Array.from(openCheckpoint(idx).readFloat32('a')), [3]);
  shard(join(base, 'elsewhere.safetensors'), 4);
  symlinkSync(join(base, 'elsewhere.safetensors'), join(snap, 'escape.safetensors'));
  writeFileSync(idx, JSON.stringify({ weight_map: { a: 'escape.safetensors' } }));
  assert.match(thrown(() => openCheckpoint(idx)).message, /is a link to .*elsewhere\.safetensors, outside the folder/);
});

test('manifest.json may not name parts or profiles outside the model folder', () => {
  const base = tempDir('manifest');
  const dir = join(base, 'model');
  cpSync(TINY, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  cpSync(join(dir, 'infinity_tiny.pth'), join(base, 'stolen.pth'));
  for (const [field, value, msg] of [
    ['transformer', '../stolen.pth', /names the transformer '\.\.\/stolen\.pth', which points outside the folder/],
    ['vae', '/etc/passwd', /names the VAE '\/etc\/passwd', which is an absolute path/],
    ['textEncoder', { evil: 1 }, /names the text encoder as \{"evil":1\}, which is not a file name/],
    ['profiles', ['../../../../home/x/.ssh/id_rsa'], /names the profile '.*id_rsa', which points outside the folder/],
  ] as const) {
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, [field]: value }));
    const e = thrown(() => locateModel(dir));
    assert.equal(e.code, 'E_CHECKPOINT_CORRUPT', field);
    assert.match(e.message, msg, field);
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  assert.equal(locateModel(dir).transformer, join(dir, 'infinity_tiny.pth'));
});

/** the tiny model laid out like an official download: no manifest, parts found by their tensors */
function officialLayout(): string {
  const dir = tempDir('scan');
  for (const f of ['infinity_tiny.pth', 'infinity_vae_tiny.pth', 'flan-t5-tiny']) cpSync(join(TINY, f), join(dir, f), { recursive: true });
  return dir;
}

test('the folder scan skips a dangling or looping link with a note instead of failing', () => {
  const dir = officialLayout();
  symlinkSync(join(dir, 'gone.pth'), join(dir, 'dangling.pth'));
  symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'));
  symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'));
  const parts = locateModel(dir);
  assert.equal(parts.transformer, join(dir, 'infinity_tiny.pth'));
  assert.equal(parts.vae, join(dir, 'infinity_vae_tiny.pth'));
  assert.equal(parts.notes.length, 3, parts.notes.join('\n'));
  assert.match(parts.notes.join('\n'), /skipped .*dangling\.pth: a link to a file that does not exist/);
  assert.match(parts.notes.join('\n'), /skipped .*loop-a: a link that loops back on itself/);
});

test('a damaged transformer is named, with the reason, instead of "missing the Infinity transformer"', () => {
  const dir = officialLayout();
  const t = join(dir, 'infinity_tiny.pth');
  const bytes = readFileSync(t);
  writeFileSync(t, bytes.subarray(0, bytes.length >> 1));
  const e = thrown(() => locateModel(dir));
  assert.equal(e.code, 'E_CHECKPOINT_CORRUPT');
  assert.match(e.message, /1 checkpoint file\(s\) could not be read: .*infinity_tiny\.pth is truncated/);
  rmSync(t);
  const e2 = thrown(() => locateModel(dir));
  assert.equal(e2.code, 'E_CHECKPOINT_MISSING', 'really missing stays "missing"');
  assert.doesNotMatch(e2.message, /could not be read/);
});

test(
  'a FIFO named config.json or tokenizer.json in the text encoder folder is refused, not waited on',
  { skip: process.platform === 'win32' && 'no FIFOs' },
  () => {
    const dir = tempDir('t5fifo');
    assert.equal(spawnSync('mkfifo', [join(dir, 'config.json')]).status, 0);
    assert.equal(spawnSync('mkfifo', [join(dir, 'tokenizer.json')]).status, 0);
    assert.throws(
      () => readT5Config(join(dir, 'config.json')),
      (e: ScaleKVError) => e.code === 'E_CHECKPOINT_CORRUPT' && /config\.json is a named pipe/.test(e.message),
    );
    assert.throws(
      () => UnigramTokenizer.fromFile(join(dir, 'tokenizer.json')),
      (e: ScaleKVError) => e.code === 'E_CHECKPOINT_CORRUPT' && /tokenizer\.json is a named pipe/.test(e.message),
    );
    writeFileSync(join(dir, 'null.json'), 'null');
    assert.throws(() => readT5Config(join(dir, 'null.json')), /is not a JSON object of settings/);
    assert.throws(() => UnigramTokenizer.fromFile(join(dir, 'null.json')), /is not a tokenizer/);
    // the folder scan does not take a folder whose config.json is a FIFO for a text encoder
    assert.doesNotThrow(() => thrown(() => locateModel(dir)));
  },
);
