/**
 * Deterministic weights for the tiny Infinity transformer under the official state_dict names (the
 * block_chunks layout the released checkpoints use). Standard deviations are chosen so activations
 * stay O(1) through the blocks and the sampled bits are neither constant nor pure noise.
 */
import type { InfinityConfig } from '../config';
import { gaussian, MapWeights } from '../weights';

/** Noise source for the weights: gaussian for the tiny model; benchmarks of big shapes may pass a faster one. */
export type Noise = (n: number, std: number, seed: number) => Float32Array;

export function makeTinyInfinityWeights(cfg: InfinityConfig, seed = 1234, blockChunks = 2, noise: Noise = gaussian): MapWeights {
  const w = new MapWeights(new Map(), 'tiny-infinity');
  const C = cfg.embedDim;
  const D = C;
  const Ct5 = cfg.textChannels;
  const H = cfg.numHeads;
  const Hp = cfg.textPoolHeads;
  const F = cfg.mlpHidden;
  const d = cfg.codebookDim;
  let s = seed;
  const rnd = (shape: number[], std: number) =>
    noise(
      shape.reduce((a, b) => a * b, 1),
      std,
      s++,
    );
  const put = (name: string, shape: number[], data: Float32Array) => w.set(name, shape, data);
  const lin = (name: string, out: number, inp: number, bias = true, gain = 1) => {
    put(`${name}.weight`, [out, inp], rnd([out, inp], gain / Math.sqrt(inp)));
    if (bias) put(`${name}.bias`, [out], rnd([out], 0.02));
  };
  const ones = (n: number) => new Float32Array(n).fill(1);

  put('cfg_uncond', [cfg.textMaxLen, Ct5], rnd([cfg.textMaxLen, Ct5], 1.2 / Math.sqrt(Ct5)));
  put('pos_start', [1, 1, C], rnd([1, 1, C], Math.sqrt(1 / C / 3)));
  put('lvl_embed.weight', [cfg.levels, C], rnd([cfg.levels, C], 0.5));
  lin('word_embed', C, d, true, Math.sqrt(d)); // codes are +-1/sqrt(d): scale them back to O(1)
  lin('shared_ada_lin.1', 6 * C, D, true, 0.5);
  put('text_norm.weight', [Ct5], ones(Ct5));
  put('text_proj_for_sos.ca.mat_q', [1, Hp, D / Hp], rnd([1, Hp, D / Hp], 1));
  put('text_proj_for_sos.ca.mat_kv.weight', [2 * D, Ct5], rnd([2 * D, Ct5], 1 / Math.sqrt(Ct5)));
  put('text_proj_for_sos.ca.v_bias', [D], rnd([D], 0.02));
  put('text_proj_for_sos.ca.zero_k_bias', [D], new Float32Array(D));
  lin('text_proj_for_sos.ca.proj', D, D);
  lin('text_proj_for_ca.0', D, Ct5);
  lin('text_proj_for_ca.2', D, D);
  lin('head_nm.ada_lin.1', 2 * C, D, true, 0.3);
  lin('head', 2 * d, C, true, 2);

  const per = cfg.depth / blockChunks;
  for (let i = 0; i < cfg.depth; i++) {
    const p = `block_chunks.${Math.floor(i / per)}.module.${i % per}.`;
    put(`${p}ada_gss`, [1, 1, 6, C], rnd([1, 1, 6, C], 0.3));
    // cosine attention: a per-head log-scale around log(4)..log(16) gives heads of different sharpness
    put(
      `${p}sa.scale_mul_1H11`,
      [1, H, 1, 1],
      Float32Array.from({ length: H }, (_, h) => Math.log(4 + (12 * h) / Math.max(1, H - 1))),
    );
    put(`${p}sa.mat_qkv.weight`, [3 * C, C], rnd([3 * C, C], 1 / Math.sqrt(C)));
    put(`${p}sa.q_bias`, [C], rnd([C], 0.02));
    put(`${p}sa.v_bias`, [C], rnd([C], 0.02));
    put(`${p}sa.zero_k_bias`, [C], new Float32Array(C));
    lin(`${p}sa.proj`, C, C, true, 0.7);
    put(`${p}ca_norm.weight`, [C], ones(C));
    put(`${p}ca_norm.bias`, [C], new Float32Array(C));
    lin(`${p}ca.mat_q`, C, C);
    put(`${p}ca.mat_kv.weight`, [2 * C, D], rnd([2 * C, D], 1 / Math.sqrt(D)));
    put(`${p}ca.v_bias`, [C], rnd([C], 0.02));
    put(`${p}ca.zero_k_bias`, [C], new Float32Array(C));
    lin(`${p}ca.proj`, C, C, true, 0.5);
    lin(`${p}ffn.fc1`, F, C);
    lin(`${p}ffn.fc2`, C, F, true, 0.5);
  }
  return w;
}
