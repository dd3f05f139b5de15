/**
 * flan-t5 text encoder in HuggingFace layout (config.json, tokenizer.json, model.safetensors |
 * pytorch_model.bin | *.index.json): prompts -> last hidden states, each prompt's first len_i
 * features kept (Infinity uses the compact, unpadded features).
 */
import { existsSync, readdirSync } from 'node:fs';
import { readSmallFile } from '../shared/files';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildT5EncoderGraph, relativeBuckets } from '../../kernels/graphs/t5Encoder';
import { CheckpointWeights, openCheckpoint } from '../checkpoint';
import { ScaleKVError } from '../shared/errors';
import type { ExecutionProvider } from '../shared/types';
import type { T5Config } from './config';
import { UnigramTokenizer } from './tokenizer/unigram';
import type { WeightSource } from './weights';

export function readT5Config(path: string): T5Config {
  let c: Record<string, unknown>;
  try {
    // a FIFO or a huge file named config.json is refused instead of blocking or filling memory
    c = JSON.parse(readSmallFile(path, 16 * 1024 * 1024, 'text encoder config')) as typeof c;
  } catch (e) {
    if (e instanceof ScaleKVError) throw e;
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is not valid JSON.`);
  }
  if (!c || typeof c !== 'object' || Array.isArray(c)) {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is not a JSON object of settings.`);
  }
  const num = (k: string, d?: number) => {
    const v = c[k] ?? d;
    if (typeof v !== 'number') throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path}: '${k}' is missing.`);
    return v;
  };
  const ff = c.feed_forward_proj ?? 'relu';
  if (typeof ff !== 'string') throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path}: 'feed_forward_proj' is not a string.`);
  return {
    vocabSize: num('vocab_size'),
    dModel: num('d_model'),
    dKv: num('d_kv'),
    numHeads: num('num_heads'),
    numLayers: num('num_layers'),
    dFf: num('d_ff'),
    relativeBuckets: num('relative_attention_num_buckets', 32),
    relativeMaxDistance: num('relative_attention_max_distance', 128),
    eps: num('layer_norm_epsilon', 1e-6),
    gatedGelu: ff.startsWith('gated'),
  };
}

/** the weights file of a HF model folder */
function findWeights(dir: string): string {
  for (const n of ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json']) {
    if (existsSync(join(dir, n))) return join(dir, n);
  }
  const any = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith('.safetensors') || n.endsWith('.bin')) : undefined;
  if (any) return join(dir, any);
  throw new ScaleKVError('E_CHECKPOINT_MISSING', `No text encoder weights (model.safetensors, pytorch_model.bin or an index) in ${dir}.`);
}

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
    const reader = openCheckpoint(findWeights(dir));
    try {
      return await TextEncoder.fromWeights(config, tokenizer, new CheckpointWeights(reader), ep, maxLength);
    } finally {
      reader.close();
    }
  }

  static async fromWeights(config: T5Config, tokenizer: UnigramTokenizer, ws: WeightSource, ep: ExecutionProvider, maxLength = 512): Promise<TextEncoder> {
    const session = await ort.InferenceSession.create(buildT5EncoderGraph(config, ws), { executionProviders: [ep], graphOptimizationLevel: 'all' });
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
