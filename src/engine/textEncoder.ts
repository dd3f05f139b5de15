/**
 * flan-t5 text encoder: prompts -> last hidden states, each prompt's first len_i features kept
 * (Infinity uses the compact, unpadded features).
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { relativeBuckets, buildT5EncoderGraph } from '../../kernels/graphs/t5Encoder';
import { CheckpointWeights, openCheckpoint } from '../checkpoint';
import type { T5Config } from '../model/config';
import { readT5Config, t5WeightsFile } from '../model/t5Config';
import { UnigramTokenizer } from '../model/tokenizer/unigram';
import type { WeightSource } from '../model/weights';
import type { ExecutionProvider } from '../shared/types';
import { createSession } from './sessions';

export class TextEncoder {
  private constructor(
    readonly config: T5Config,
    readonly tokenizer: UnigramTokenizer,
    private readonly session: ort.InferenceSession,
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
  ): Promise<TextEncoder> {
    const session = await createSession(buildT5EncoderGraph(config, ws), ep, 'text encoder');
    return new TextEncoder(config, tokenizer, session, maxLength);
  }

  async encode(prompts: string[]): Promise<{ features: Float32Array; lens: number[]; maxLen: number }> {
    const enc = prompts.map((p) => this.tokenizer.encode(p, this.maxLength));
    const T = Math.max(...enc.map((e) => e.ids.length));
    const B = prompts.length;
    const ids = new BigInt64Array(B * T).fill(BigInt(this.tokenizer.padId));
    const mask = new Float32Array(B * T);
    enc.forEach((e, b) => {
      e.ids.forEach((id, t) => (ids[b * T + t] = BigInt(id)));
      mask.fill(1, b * T, b * T + e.ids.length);
    });
    const r = await this.session.run({
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: new ort.Tensor('float32', mask, [B, T]),
      rel_buckets: new ort.Tensor('int64', relativeBuckets(T, this.config.relativeBuckets, this.config.relativeMaxDistance), [T, T]),
    });
    const feats = r.last_hidden_state.data as Float32Array;
    // padded positions are zeroed so no consumer can mistake them for features
    const D = this.config.dModel;
    enc.forEach((e, b) => feats.fill(0, (b * T + e.ids.length) * D, (b + 1) * T * D));
    return { features: feats, lens: enc.map((e) => e.ids.length), maxLen: T };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
