/**
 * The flan-t5 text encoder's files in HuggingFace layout (config.json, tokenizer.json, model.safetensors |
 * pytorch_model.bin | *.index.json): its config and where its weights are. src/engine/textEncoder.ts runs it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readSmallFile } from '../shared/files';
import { join } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import type { T5Config } from './config';

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
export function t5WeightsFile(dir: string): string {
  for (const n of ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json']) {
    if (existsSync(join(dir, n))) return join(dir, n);
  }
  const any = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith('.safetensors') || n.endsWith('.bin')) : undefined;
  if (any) return join(dir, any);
  throw new ScaleKVError('E_CHECKPOINT_MISSING', `No text encoder weights (model.safetensors, pytorch_model.bin or an index) in ${dir}.`);
}
