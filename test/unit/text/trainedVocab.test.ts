/**
 * The trained model's text encoder: every dataset word is one whole piece, the tiny model's tokenizer is
 * unchanged without extra words, and a vocabulary without room for the words is refused by name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TINY_T5 } from '../../../src/model/config';
import { writeTinyT5 } from '../../../src/model/tiny/t5Tiny';
import { makeTinyTokenizerJson } from '../../../src/model/tokenizer/tinyVocab';
import { UnigramTokenizer } from '../../../src/model/tokenizer/unigram';

const WORDS = ['circle', 'circles', 'diamond', 'triangle', 'centre', 'above', 'gradient', 'horizon', 'purple', 'two'];

test('dataset words become whole pieces; without them the tiny tokenizer is unchanged', () => {
  assert.deepEqual(makeTinyTokenizerJson(384, []), makeTinyTokenizerJson(384));
  const plain = new UnigramTokenizer(makeTinyTokenizerJson(512), 'plain');
  const tok = new UnigramTokenizer(makeTinyTokenizerJson(512, WORDS), 'trained');
  const prompt = 'two purple circles above a triangle a gradient';
  // one piece per word plus </s> with the words; the plain tokenizer splits 'circles' etc. into pieces
  assert.equal(tok.encode(prompt).ids.length, prompt.split(' ').length + 1);
  assert.ok(plain.encode(prompt).ids.length > prompt.split(' ').length + 1);
  assert.equal(tok.vocabSize, 512);
});

test('writeTinyT5 with words: the tokenizer holds them; too small a vocabulary is refused naming the words', () => {
  const dir = mkdtempSync(join(tmpdir(), 't5w-'));
  try {
    writeTinyT5(join(dir, 'ok'), { ...TINY_T5, vocabSize: 512 }, { words: WORDS, seed: 5, relStd: 2 });
    const tok = UnigramTokenizer.fromFile(join(dir, 'ok', 'tokenizer.json'));
    for (const w of WORDS) assert.equal(tok.encode(w).ids.length, 2, w);
    const cfg = JSON.parse(readFileSync(join(dir, 'ok', 'config.json'), 'utf8'));
    assert.equal(cfg.vocab_size, 512);
    assert.throws(() => writeTinyT5(join(dir, 'small'), { ...TINY_T5, vocabSize: 32 }, { words: WORDS }), /no room for: .*horizon/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
