/**
 * Words of a prompt the model does not know. With the list of words a model was trained on (its
 * manifest's `vocabulary`), a word is unknown when it is not on the list: a trained model's tokenizer
 * may well split a new word into pieces it has seen, but the model never saw them mean this word.
 * Without a list, a word is unknown when the tokenizer holds no whole piece for it ('▁' + word) and so
 * splits it into sub-word pieces, or when it has characters that map to <unk>.
 */
import type { UnigramTokenizer } from './unigram';

const WORD = /[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu;

export function unknownWords(tokenizer: UnigramTokenizer, prompt: string, vocabulary?: readonly string[]): string[] {
  const known = vocabulary ? new Set(vocabulary) : null;
  const out = new Set<string>();
  for (const chunk of tokenizer.normalize(prompt).split(' ').filter(Boolean)) {
    for (const w of chunk.match(WORD) ?? []) {
      if (known ? !known.has(w) : !tokenizer.hasPiece(tokenizer.space + w)) out.add(w);
    }
    // symbols between words are named only when the tokenizer has nothing for them (<unk>)
    for (const c of chunk.replace(WORD, ' ')) if (c !== ' ' && tokenizer.hitsUnknown(c)) out.add(c);
  }
  return [...out];
}
