/**
 * A deterministic tokenizer.json for the tiny model, in the same structure as flan-t5's: <pad>, </s>,
 * <unk>, then ▁-prefixed common words, sub-word pieces and single characters so any English prompt
 * tokenizes. Scores favour whole words over pieces (longer pieces score higher per character).
 */
// the parentheses matter: without them `.split` binds to the last literal only and WORDS becomes one string
const WORDS = (
  'a an the of on in at to and with by for from over under near red green blue yellow white black orange purple pink brown gold silver ' +
  'cat dog bird fish horse tree flower house car boat city mountain river sea sky sun moon star cloud forest garden street ' +
  'portrait photo painting lighthouse cliff dusk night morning apple table wooden glass stone old new small big beautiful ' +
  'man woman child people robot castle bridge field snow rain light dark colorful detailed'
).split(' ');
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
  for (const w of WORDS) add('\u2581' + w, -2 - 1 / w.length);
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
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  };
}
