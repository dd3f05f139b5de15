/**
 * Prompts with words the model does not know still generate, and the run says which words: in
 * run.json's notices, on the engine's result, and on the CLI's stderr.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { locateModel } from '../../../src/checkpoint/modelFolder';
import { createEngine } from '../../../src/engine/engine';
import { unknownWords } from '../../../src/model/tokenizer/unknownWords';
import { UnigramTokenizer } from '../../../src/model/tokenizer/unigram';
import { type ScaleKVError } from '../../../src/shared/errors';
import { ctx, request, tempDir, TINY } from '../engine/helpers';

/** flan-t5-like pieces: whole words for 'a', 'red', 'circle', sub-word pieces and letters for the rest */
function tokenizer(): UnigramTokenizer {
  const vocab: [string, number][] = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
    ['\u2581', -3],
    ['\u2581a', -2],
    ['\u2581red', -2],
    ['\u2581circle', -2],
    ['ing', -4],
  ];
  for (const c of 'abcdefghijklmnopqrstuvwxyz') vocab.push([c, -6], ['\u2581' + c, -6.5]);
  return new UnigramTokenizer({ model: { type: 'Unigram', unk_id: 2, vocab } }, 'test');
}

test('without a trained-word list no word is named (real flan-t5 splits ordinary words), only symbols that map to <unk>', () => {
  const tok = tokenizer();
  assert.deepEqual(unknownWords(tok, 'a red circle'), []);
  // "lighthouse" and "circling" have no whole piece here: no sign that a model does not know them
  assert.deepEqual(unknownWords(tok, 'a red lighthouse at dusk'), []);
  assert.deepEqual(unknownWords(tok, 'a red circling circle'), []);
  // symbols the tokenizer has no piece for are named; punctuation around a word does not hide it
  assert.deepEqual(unknownWords(tok, 'a red, circle.'), [',', '.']);
  assert.deepEqual(unknownWords(tok, 'a red ☃ circle café ☃'), ['☃']);
});

test("with the model's trained-word list, a word off the list is unknown even when the tokenizer has a piece for it", () => {
  const tok = tokenizer();
  assert.deepEqual(unknownWords(tok, 'a red circle', ['a', 'circle']), ['red']);
  assert.deepEqual(unknownWords(tok, 'a blue circle', ['a', 'blue', 'circle']), []);
  assert.deepEqual(unknownWords(tok, '  a   red lighthouse at dusk, dusk ☃', ['a', 'red']), ['lighthouse', 'at', 'dusk', ',', '☃']);
});

/** the tiny model's parts under a manifest that lists `vocabulary` */
function tinyWithVocabulary(vocabulary: unknown): string {
  const dir = tempDir('vocab-model');
  const m = JSON.parse(readFileSync(join(TINY, 'manifest.json'), 'utf8'));
  // a manifest may name only files inside its own folder: copy the tiny model's parts in
  for (const f of [m.transformer, m.vae, m.textEncoder]) cpSync(join(TINY, f), join(dir, f), { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, profile: undefined, profiles: [], vocabulary }));
  return dir;
}

test('a manifest may list the words the model was trained on; a malformed list is refused', () => {
  const dir = tinyWithVocabulary(['a', 'red', 'circle']);
  assert.deepEqual(locateModel(dir).vocabulary, ['a', 'red', 'circle']);
  assert.throws(
    () => locateModel(tinyWithVocabulary('a red circle')),
    (e: ScaleKVError) => e.code === 'E_CHECKPOINT_CORRUPT' && /vocabulary/.test(e.message),
  );
});

test('the engine still generates, and names the unknown words per prompt in the run record and run.json', async () => {
  const engine = createEngine();
  try {
    const modelPath = tinyWithVocabulary(['a', 'circle']);
    const req = request({ modelPath, prompts: ['a red circle ☃', 'a'], resolution: '0.06M' });
    const { run, runPath } = await engine.generate(req, ctx());
    assert.equal(run.images.length, 2);
    assert.deepEqual(
      run.notices?.map((n) => [n.kind, n.prompt, n.words]),
      [['unknown-words', 'a red circle ☃', ['red', '☃']]],
    );
    assert.match(run.notices[0].message, /red, ☃/);
    assert.deepEqual(JSON.parse(readFileSync(runPath, 'utf8')).notices, run.notices);
    // the tiny model declares no vocabulary: its runs name no words
    const clean = await engine.generate(request({ prompts: ['a lighthouse on a cliff at dusk'], resolution: '0.06M' }), ctx());
    assert.deepEqual(clean.run.notices, []);
  } finally {
    await engine.dispose();
  }
});

test("the CLI prints the default model's notice on stderr and still writes the image", () => {
  const out = tempDir('cli-notice');
  const cli = join(__dirname, '../../../../dist/cli.js');
  const r = spawnSync(
    process.execPath,
    [cli, 'generate', '--prompt', 'a lighthouse', '--resolution', '0.06M', '--provider', 'cpu', '--out', out],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /notice: Words outside the model's vocabulary in "a lighthouse": lighthouse\./);
  const [run] = readdirSync(out);
  assert.ok(readdirSync(join(out, run)).includes('image-0.png'));
});
