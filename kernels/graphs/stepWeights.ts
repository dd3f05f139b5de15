/**
 * The weights of the fused scale-step graphs (kernels/graphs/scaleStep.ts), which take them as graph
 * inputs rather than initializers: one upload serves every per-scale graph, so specialising a graph
 * to a scale's static shapes costs no extra memory. Each entry says how it is derived from the
 * official state_dict (transposed to [in, out] for MatMul, biases fused) and in which dtype it runs:
 * matrices in the compute precision, norms, modulation and the bitwise head in float32.
 */
import type { InfinityConfig } from '../../src/model/config';
import { expectTensor, type WeightSource } from '../../src/model/weights';
import { transpose2d } from '../onnx/graph';
import { blockPrefixes } from './infinityNames';

export type StepPrecision = 'float16' | 'float32';

export interface StepWeight {
  /** graph input name */
  name: string;
  dims: number[];
  /** 'compute' follows the graph's precision; 'float32' always float32 */
  kind: 'compute' | 'float32';
  /** layer the weight belongs to, or -1 for the model-wide ones (upload order, memory accounting) */
  layer: number;
  read(): Float32Array;
}

/** The weight list; with no source, only names, shapes and kinds (reading then fails). */
export function stepWeights(cfg: InfinityConfig, ws: WeightSource | null): StepWeight[] {
  const C = cfg.embedDim;
  const H = cfg.numHeads;
  const F = cfg.mlpHidden;
  const D = cfg.embedDim;
  const dc = cfg.codebookDim;
  const out: StepWeight[] = [];
  const add = (name: string, dims: number[], kind: StepWeight['kind'], layer: number, read: () => Float32Array) =>
    out.push({ name, dims, kind, layer, read });
  const src = ws ?? NO_SOURCE;
  const linT = (name: string, from: string, outF: number, inF: number, layer: number, kind: StepWeight['kind'] = 'compute') =>
    add(name, [inF, outF], kind, layer, () => transpose2d(expectTensor(src, from, [outF, inF]), outF, inF));
  const vec = (name: string, from: string, n: number, layer: number, kind: StepWeight['kind'] = 'compute') =>
    add(name, [n], kind, layer, () => expectTensor(src, from, [n]));

  linT('word_embed.t', 'word_embed.weight', C, dc, -1);
  vec('word_embed.bias', 'word_embed.bias', C, -1);
  add('lvl_embed', [cfg.levels, C], 'float32', -1, () => expectTensor(src, 'lvl_embed.weight', [cfg.levels, C]));
  linT('head.t', 'head.weight', 2 * dc, C, -1, 'float32');
  vec('head.bias', 'head.bias', 2 * dc, -1, 'float32');

  const prefixes = ws ? blockPrefixes(ws, cfg.depth) : Array.from({ length: cfg.depth }, (_, i) => `blocks.${i}.`);
  prefixes.forEach((p, l) => {
    const b = `b${l}.`;
    // rows (gamma1, gamma2, scale1, scale2, shift1, shift2); the graph multiplies by (1 + scale), so the
    // scale rows are uploaded with their 1 added and the graph needs no Add per block and scale
    add(b + 'ada_gss', [1, 6, C], 'float32', l, () => {
      const gss = Float32Array.from(expectTensor(src, p + 'ada_gss', [1, 1, 6, C]));
      for (let i = 2 * C; i < 4 * C; i++) gss[i] += 1;
      return gss;
    });
    linT(b + 'qkv.t', p + 'sa.mat_qkv.weight', 3 * C, C, l);
    add(b + 'qkv.bias', [3 * C], 'compute', l, () => {
      const bias = new Float32Array(3 * C);
      bias.set(expectTensor(src, p + 'sa.q_bias', [C]), 0);
      bias.set(expectTensor(src, p + 'sa.v_bias', [C]), 2 * C);
      return bias;
    });
    // Infinity clamps the learned per-head logit scale at log(100) before exponentiating
    add(b + 'head_scale', [1, H, 1, 1], 'float32', l, () =>
      Float32Array.from(expectTensor(src, p + 'sa.scale_mul_1H11', [1, H, 1, 1]), (v) => Math.exp(Math.min(v, Math.log(100)))),
    );
    linT(b + 'proj.t', p + 'sa.proj.weight', C, C, l);
    vec(b + 'proj.bias', p + 'sa.proj.bias', C, l);
    vec(b + 'ca_norm.weight', p + 'ca_norm.weight', C, l, 'float32');
    vec(b + 'ca_norm.bias', p + 'ca_norm.bias', C, l, 'float32');
    // the cross-attention's 1/sqrt(d) is folded into its query projection
    const caScale = 1 / Math.sqrt(C / H);
    add(b + 'ca_q.t', [C, C], 'compute', l, () =>
      transpose2d(expectTensor(src, p + 'ca.mat_q.weight', [C, C]), C, C).map((v) => v * caScale),
    );
    add(b + 'ca_q.bias', [C], 'compute', l, () => expectTensor(src, p + 'ca.mat_q.bias', [C]).map((v) => v * caScale));
    linT(b + 'ca_kv.t', p + 'ca.mat_kv.weight', 2 * C, D, l);
    add(b + 'ca_kv.bias', [2 * C], 'compute', l, () => {
      const bias = new Float32Array(2 * C);
      bias.set(expectTensor(src, p + 'ca.v_bias', [C]), C);
      return bias;
    });
    linT(b + 'ca_proj.t', p + 'ca.proj.weight', C, C, l);
    vec(b + 'ca_proj.bias', p + 'ca.proj.bias', C, l);
    linT(b + 'fc1.t', p + 'ffn.fc1.weight', F, C, l);
    vec(b + 'fc1.bias', p + 'ffn.fc1.bias', F, l);
    linT(b + 'fc2.t', p + 'ffn.fc2.weight', C, F, l);
    vec(b + 'fc2.bias', p + 'ffn.fc2.bias', C, l);
  });
  return out;
}

const NO_SOURCE: WeightSource = {
  origin: 'a weight list without a source',
  names: () => [],
  has: () => false,
  shape: () => [],
  get: () => new Float32Array(0),
};

export function weightDtype(w: StepWeight, precision: StepPrecision): StepPrecision {
  return w.kind === 'float32' ? 'float32' : precision;
}
