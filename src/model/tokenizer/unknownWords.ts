/**
 * Words of a prompt the model does not know, named only for models that declare the words they were
 * trained on (the manifest's `vocabulary`): a word is unknown when it is not on the list. A trained
 * model's tokenizer may well split a new word into pieces it has seen, but the model never saw them
 * mean this word. Without a list there is nothing to say: a real flan-t5 splits many ordinary words into
 * pieces, so "no whole piece" is no sign that the model does not know a word.
 * Symbols that map to <unk> are named either way: no model sees them.
 */
import type { UnigramTokenizer } from './unigram';

const WORD = /[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu;

export function unknownWords(tokenizer: UnigramTokenizer, prompt: string, vocabulary?: readonly string[]): string[] {
  const known = vocabulary ? new Set(vocabulary) : null;
  const out = new Set<string>();
  for (const chunk of tokenizer.normalize(prompt).split(' ').filter(Boolean)) {
    for (const w of chunk.match(WORD) ?? []) {
      if (known && !known.has(w)) out.add(w);
    }
    // symbols between words are named only when the tokenizer has nothing for them (<unk>)
    for (const c of chunk.replace(WORD, ' ')) if (c !== ' ' && tokenizer.hitsUnknown(c)) out.add(c);
  }
  return [...out];
}
