/**
 * A deterministic tokenizer.json for the tiny model, in the same structure as flan-t5's: <pad>, </s>,
 * <unk>, then ▁-prefixed characters (FIRST_CHARS), sub-word pieces and single characters so any English prompt
 * tokenizes. Scores favour whole words over pieces (longer pieces score higher per character).
 */
/**
 * The tiny tokenizer's first pieces: these characters, each ▁-prefixed, in this order. They were meant to be
 * ~80 common words, but the word list was written as 'a ...' + ... + '... detailed'.split(' '), which built
 * them from the list's characters. The embedded tiny model's token ids and its tests (unknown-word notices)
 * rest on these pieces, so whole words belong in a deliberate change of that model, not here.
 */
const FIRST_CHARS = [...'a ntheofidwbyrmvuglckps,'];
const PIECES = 'ing ed er est ly s es tion ous ful ness ment able ight ain ock ow ar or en an on in at'.split(' ');
const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?-\'"():;/&'.split('');

/**
 * @param extraWords words a trained model's captions use (e.g. a dataset's vocabulary): each becomes one
 *   whole '▁word' piece, placed right after the built-in words; with none the tokenizer is the tiny model's.
 */
export function makeTinyTokenizerJson(vocabSize: number, extraWords: readonly string[] = []): object {
  const vocab: [string, number][] = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
    ['\u2581', -3],
  ];
  const add = (p: string, score: number) => {
    if (vocab.length < vocabSize && !vocab.some((v) => v[0] === p)) vocab.push([p, score]);
  };
  for (const c of FIRST_CHARS) add('\u2581' + c, -3);
  for (const w of extraWords) add('\u2581' + w, -2 - 1 / w.length);
  for (const c of CHARS) add(c, -6);
  for (const c of CHARS) add('\u2581' + c, -6.5);
  for (const p of PIECES) add(p, -4 - 1 / p.length);
  // fill the rest with two-letter pieces so the vocabulary has the configured size
  for (const a of 'etaoinshrdlucmfwypvbgk') for (const b of 'etaoinshrdlucmfwypvbgk') add(a + b, -5);
  while (vocab.length < vocabSize) vocab.push([`<extra_${vocab.length}>`, -20]);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 0, content: '<pad>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 2, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
}
