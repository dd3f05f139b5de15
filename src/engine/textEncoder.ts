/**
 * flan-t5 text encoder: prompts -> last hidden states, each prompt's first len_i features kept
 * (Infinity uses the compact, unpadded features).
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildT5EncoderPart, relativeBuckets, t5EncoderParts, T5_PART_BYTES } from '../../kernels/graphs/t5Encoder';
import { CheckpointWeights, openCheckpoint } from '../checkpoint';
import type { T5Config } from '../model/config';
import { readT5Config, t5WeightsFile } from '../model/t5Config';
import { UnigramTokenizer } from '../model/tokenizer/unigram';
import type { WeightSource } from '../model/weights';
import type { ExecutionProvider } from '../shared/types';
import type { TextFeatures } from './generate';
import { PartialBuild } from './partialBuild';
import { createSession } from './sessions';

/**
 * Where the text encoder runs: on the CPU, whichever provider the transformer has. It runs once per
 * prompt, and on a GPU flan-t5-xl's 4.9 GB of float32 weights would sit beside the transformer's 4 GB
 * and its KV cache for as long as the model is loaded; the official code likewise moves T5 off the GPU
 * before it generates (tools/run_infinity.py). SCALEKV_TEXT_ENCODER_PROVIDER=same runs it on the
 * transformer's provider instead (a card with room to spare, a CPU too slow for it).
 */
export function textEncoderProvider(transformer: ExecutionProvider): ExecutionProvider {
  return process.env.SCALEKV_TEXT_ENCODER_PROVIDER === 'same' ? transformer : 'cpu';
}

/** prompt lists whose features are kept: Compare Policies and repeated runs encode the same prompt again */
const ENCODED_KEPT = 16;

export class TextEncoder {
  private readonly encoded = new Map<string, TextFeatures>();

  private constructor(
    readonly config: T5Config,
    readonly tokenizer: UnigramTokenizer,
    // the encoder's layers in parts run one after another (t5Encoder.ts: flan-t5-xl fits no single graph)
    private readonly sessions: ort.InferenceSession[],
    readonly maxLength: number,
  ) {}

  static async load(dir: string, ep: ExecutionProvider, maxLength = 512): Promise<TextEncoder> {
    const config = readT5Config(join(dir, 'config.json'));
    const tokenizer = UnigramTokenizer.fromFile(join(dir, 'tokenizer.json'));
    const reader = openCheckpoint(t5WeightsFile(dir));
    try {
      return await TextEncoder.fromWeights(config, tokenizer, new CheckpointWeights(reader), ep, maxLength);
    } finally {
      reader.close();
    }
  }

  static async fromWeights(
    config: T5Config,
    tokenizer: UnigramTokenizer,
    ws: WeightSource,
    ep: ExecutionProvider,
    maxLength = 512,
    partBytes = T5_PART_BYTES,
  ): Promise<TextEncoder> {
    const built = new PartialBuild();
    const parts = t5EncoderParts(config, partBytes);
    const sessions: ort.InferenceSession[] = [];
    for (let k = 0; k < parts.length; k++) {
      const label = parts.length === 1 ? 'text encoder' : `text encoder part ${k + 1}/${parts.length}`;
      sessions.push(await built.add(() => createSession(buildT5EncoderPart(config, ws, parts, k), ep, label)));
    }
    return new TextEncoder(config, tokenizer, sessions, maxLength);
  }

  async encode(prompts: string[]): Promise<TextFeatures> {
    const key = JSON.stringify(prompts);
    let hit = this.encoded.get(key);
    if (hit)
      this.encoded.delete(key); // most recently used last
    else {
      hit = await this.run(prompts);
      if (this.encoded.size >= ENCODED_KEPT) this.encoded.delete(this.encoded.keys().next().value as string);
    }
    this.encoded.set(key, hit);
    // callers own what they get
    return { features: hit.features.slice(), lens: [...hit.lens], maxLen: hit.maxLen };
  }

  private async run(prompts: string[]): Promise<TextFeatures> {
    const enc = prompts.map((p) => this.tokenizer.encode(p, this.maxLength));
    const T = Math.max(...enc.map((e) => e.ids.length));
    const B = prompts.length;
    const ids = new BigInt64Array(B * T).fill(BigInt(this.tokenizer.padId));
    const mask = new Float32Array(B * T);
    enc.forEach((e, b) => {
      e.ids.forEach((id, t) => (ids[b * T + t] = BigInt(id)));
      mask.fill(1, b * T, b * T + e.ids.length);
    });
    let r = await this.sessions[0].run({
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: new ort.Tensor('float32', mask, [B, T]),
      rel_buckets: new ort.Tensor('int64', relativeBuckets(T, this.config.relativeBuckets, this.config.relativeMaxDistance), [T, T]),
    });
    const bias = r.bias;
    for (const s of this.sessions.slice(1)) r = await s.run({ hidden: r.hidden_out, bias });
    const feats = r.last_hidden_state.data as Float32Array;
    // padded positions are zeroed so no consumer can mistake them for features
    const D = this.config.dModel;
    enc.forEach((e, b) => feats.fill(0, (b * T + e.ids.length) * D, (b + 1) * T * D));
    return { features: feats, lens: enc.map((e) => e.ids.length), maxLen: T };
  }

  async release(): Promise<void> {
    for (const s of this.sessions) await s.release();
  }
}
