/**
 * The tiny text encoder in HuggingFace's layout: config.json, tokenizer.json, model.safetensors with
 * T5 encoder weights under the official names (deterministic, variance-preserving initialisation).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../../checkpoint/safetensors';
import type { T5Config } from '../config';
import { makeTinyTokenizerJson } from '../tokenizer/tinyVocab';
import { gaussian, MapWeights } from '../weights';

export function makeTinyT5Weights(cfg: T5Config, seed = 777): MapWeights {
  const w = new MapWeights(new Map(), 'tiny-t5');
  let s = seed;
  const D = cfg.dModel;
  const inner = cfg.numHeads * cfg.dKv;
  const lin = (name: string, out: number, inp: number) => w.set(`${name}.weight`, [out, inp], gaussian(out * inp, 1 / Math.sqrt(inp), s++));
  w.set('shared.weight', [cfg.vocabSize, D], gaussian(cfg.vocabSize * D, 1, s++));
  w.set('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', [cfg.relativeBuckets, cfg.numHeads], gaussian(cfg.relativeBuckets * cfg.numHeads, 0.5, s++));
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

export function writeTinyT5(dir: string, cfg: T5Config): void {
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
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(makeTinyTokenizerJson(cfg.vocabSize)));
  const w = makeTinyT5Weights(cfg);
  writeSafetensors(
    join(dir, 'model.safetensors'),
    w.names().map((n) => ({ name: n, dtype: 'float32' as const, shape: w.shape(n), data: w.get(n) })),
    { format: 'pt' },
  );
}
