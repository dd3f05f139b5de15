/**
 * The tiny text encoder in HuggingFace's layout: config.json, tokenizer.json, model.safetensors with
 * T5 encoder weights under the official names (deterministic, variance-preserving initialisation).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../../checkpoint/safetensors';
import { ScaleKVError } from '../../shared/errors';
import type { T5Config } from '../config';
import { makeTinyTokenizerJson } from '../tokenizer/tinyVocab';
import { gaussian, MapWeights } from '../weights';

/** @param relStd spread of the relative position bias: larger makes heads look at fixed offsets (word order) */
export function makeTinyT5Weights(cfg: T5Config, seed = 777, relStd = 0.5): MapWeights {
  const w = new MapWeights(new Map(), 'tiny-t5');
  let s = seed;
  const D = cfg.dModel;
  const inner = cfg.numHeads * cfg.dKv;
  const lin = (name: string, out: number, inp: number) => w.set(`${name}.weight`, [out, inp], gaussian(out * inp, 1 / Math.sqrt(inp), s++));
  w.set('shared.weight', [cfg.vocabSize, D], gaussian(cfg.vocabSize * D, 1, s++));
  w.set(
    'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
    [cfg.relativeBuckets, cfg.numHeads],
    gaussian(cfg.relativeBuckets * cfg.numHeads, relStd, s++),
  );
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `encoder.block.${i}.layer.`;
    w.set(`${p}0.layer_norm.weight`, [D], new Float32Array(D).fill(1));
    lin(`${p}0.SelfAttention.q`, inner, D);
    lin(`${p}0.SelfAttention.k`, inner, D);
    lin(`${p}0.SelfAttention.v`, inner, D);
    lin(`${p}0.SelfAttention.o`, D, inner);
    w.set(`${p}1.layer_norm.weight`, [D], new Float32Array(D).fill(1));
    lin(`${p}1.DenseReluDense.wi_0`, cfg.dFf, D);
    lin(`${p}1.DenseReluDense.wi_1`, cfg.dFf, D);
    lin(`${p}1.DenseReluDense.wo`, D, cfg.dFf);
  }
  w.set('encoder.final_layer_norm.weight', [D], new Float32Array(D).fill(1));
  return w;
}

export interface TextEncoderOptions {
  /** words that must each be one whole token (a dataset's caption vocabulary) */
  words?: readonly string[];
  seed?: number;
  relStd?: number;
}

/**
 * Writes a flan-t5-shaped encoder folder with deterministic frozen weights. Without options it is the
 * tiny model's encoder; a trained model passes its caption words so that every word is one token.
 */
export function writeTinyT5(dir: string, cfg: T5Config, opts: TextEncoderOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        architectures: ['T5EncoderModel'],
        model_type: 't5',
        vocab_size: cfg.vocabSize,
        d_model: cfg.dModel,
        d_kv: cfg.dKv,
        num_heads: cfg.numHeads,
        num_layers: cfg.numLayers,
        d_ff: cfg.dFf,
        relative_attention_num_buckets: cfg.relativeBuckets,
        relative_attention_max_distance: cfg.relativeMaxDistance,
        layer_norm_epsilon: cfg.eps,
        feed_forward_proj: cfg.gatedGelu ? 'gated-gelu' : 'relu',
      },
      null,
      2,
    ),
  );
  const tokenizer = makeTinyTokenizerJson(cfg.vocabSize, opts.words ?? []) as { model: { vocab: [string, number][] } };
  const pieces = new Set(tokenizer.model.vocab.map((v) => v[0]));
  const lost = (opts.words ?? []).filter((w) => !pieces.has('\u2581' + w));
  if (lost.length) {
    throw new ScaleKVError(
      'E_CONFIG',
      `A ${cfg.vocabSize}-piece vocabulary has no room for: ${lost.join(', ')}. Raise the vocabulary size.`,
    );
  }
  writeFileSync(join(dir, 'tokenizer.json'), tinyTokenizerText(cfg, opts.words));
  const w = makeTinyT5Weights(cfg, opts.seed, opts.relStd);
  writeSafetensors(
    join(dir, 'model.safetensors'),
    w.names().map((n) => ({ name: n, dtype: 'float32' as const, shape: w.shape(n), data: w.get(n) })),
    { format: 'pt' },
  );
}

/** the tokenizer.json text writeTinyT5 writes (the build compares an existing tiny model's with it) */
export function tinyTokenizerText(cfg: T5Config, words: readonly string[] = []): string {
  return JSON.stringify(makeTinyTokenizerJson(cfg.vocabSize, words));
}
