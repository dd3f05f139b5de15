/**
 * A tokenizer for HuggingFace tokenizer.json files of T5's kind (flan-t5-xl): Unigram model with
 * Viterbi segmentation, Metaspace pre-tokenization, whitespace collapsing and NFKC normalisation, and
 * the </s> the post-processor appends. flan-t5's Precompiled charsmap is approximated by NFKC; for
 * ordinary prompts the two agree.
 */
import { readSmallFile } from '../../shared/files';
import { ScaleKVError } from '../../shared/errors';

interface TokenizerJson {
  model?: { type?: string; vocab?: [string, number][]; unk_id?: number | null };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  post_processor?: { type?: string; special_tokens?: Record<string, { ids: number[] }> };
  pre_tokenizer?: { replacement?: string };
}

export interface Encoded {
  ids: number[];
  /** 1 for real tokens */
  mask: number[];
}

export class UnigramTokenizer {
  private readonly pieces = new Map<string, { id: number; score: number }>();
  private readonly maxPieceLen: number;
  readonly unkId: number;
  readonly eosId: number | null;
  readonly padId: number;
  private readonly unkScore: number;
  readonly vocabSize: number;
  /** the Metaspace replacement that marks a word's start ('▁') */
  space: string = '\u2581';

  constructor(json: TokenizerJson, origin: string) {
    const m = json.model;
    if (!m || m.type !== 'Unigram' || !Array.isArray(m.vocab)) {
      throw new ScaleKVError(
        'E_CHECKPOINT_CORRUPT',
        `${origin}: only Unigram tokenizers (T5's) are supported; found model type '${m?.type ?? 'none'}'.`,
      );
    }
    let maxLen = 1;
    let minScore = 0;
    m.vocab.forEach((entry, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: vocab entry ${id} is not [piece, score].`);
      }
      if (!this.pieces.has(entry[0])) this.pieces.set(entry[0], { id, score: entry[1] });
      maxLen = Math.max(maxLen, [...entry[0]].length);
      minScore = Math.min(minScore, entry[1]);
    });
    this.vocabSize = m.vocab.length;
    this.maxPieceLen = maxLen;
    this.unkId = m.unk_id ?? 2;
    this.unkScore = minScore - 10; // sentencepiece's penalty for unknown characters
    const eos =
      json.post_processor?.special_tokens?.['</s>']?.ids?.[0] ??
      json.added_tokens?.find((t) => t.content === '</s>')?.id ??
      this.pieces.get('</s>')?.id;
    this.eosId = eos ?? null;
    this.padId = json.added_tokens?.find((t) => t.content === '<pad>')?.id ?? this.pieces.get('<pad>')?.id ?? 0;
    if (json.pre_tokenizer?.replacement) this.space = json.pre_tokenizer.replacement;
  }

  static fromFile(path: string): UnigramTokenizer {
    let text: string;
    try {
      // flan-t5's tokenizer.json is 2.4 MB; a FIFO or a huge file is refused instead of blocking
      text = readSmallFile(path, 256 * 1024 * 1024, 'tokenizer');
    } catch (e) {
      if ((e as ScaleKVError).code === 'E_CHECKPOINT_MISSING' && /not found/.test((e as Error).message)) {
        throw new ScaleKVError('E_CHECKPOINT_MISSING', `Tokenizer not found: ${path}`);
      }
      throw e;
    }
    let json: TokenizerJson;
    try {
      json = JSON.parse(text) as TokenizerJson;
    } catch (e) {
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (!json || typeof json !== 'object') throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is not a tokenizer (a JSON object).`);
    return new UnigramTokenizer(json, path);
  }

  normalize(text: string): string {
    return text.normalize('NFKC').replace(/\s+/g, ' ').trim();
  }

  /** Viterbi: the segmentation of one ▁-prefixed word with the highest total score. */
  segment(word: string): number[] {
    const chars = [...word];
    const n = chars.length;
    const best = new Float64Array(n + 1).fill(-Infinity);
    const from = new Int32Array(n + 1).fill(-1);
    const piece = new Int32Array(n + 1).fill(-1);
    best[0] = 0;
    for (let i = 0; i < n; i++) {
      if (best[i] === -Infinity) continue;
      let s = '';
      for (let j = i; j < Math.min(n, i + this.maxPieceLen); j++) {
        s += chars[j];
        const p = this.pieces.get(s);
        if (p) {
          const sc = best[i] + p.score;
          if (sc > best[j + 1]) {
            best[j + 1] = sc;
            from[j + 1] = i;
            piece[j + 1] = p.id;
          }
        }
      }
      if (!this.pieces.has(chars[i])) {
        const sc = best[i] + this.unkScore;
        if (sc > best[i + 1]) {
          best[i + 1] = sc;
          from[i + 1] = i;
          piece[i + 1] = this.unkId;
        }
      }
    }
    const ids: number[] = [];
    for (let k = n; k > 0; k = from[k]) ids.push(piece[k]);
    ids.reverse();
    // consecutive unknowns fuse into one, as sentencepiece does
    return ids.filter((id, i) => !(id === this.unkId && ids[i - 1] === this.unkId));
  }

  hasPiece(piece: string): boolean {
    return this.pieces.has(piece);
  }

  /** whether a whitespace-free chunk of text segments into <unk> anywhere */
  hitsUnknown(chunk: string): boolean {
    return this.segment(this.space + chunk).includes(this.unkId);
  }

  encode(text: string, maxLength = 512): Encoded {
    const words = this.normalize(text).split(' ').filter(Boolean);
    let ids: number[] = [];
    for (const w of words) ids.push(...this.segment(this.space + w));
    const room = this.eosId === null ? maxLength : maxLength - 1;
    if (ids.length > room) ids = ids.slice(0, room);
    if (this.eosId !== null) ids.push(this.eosId);
    return { ids, mask: ids.map(() => 1) };
  }
}
