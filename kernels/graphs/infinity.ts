/**
 * The Infinity transformer as ONNX graphs, one job each:
 *  - conditioning: T5 features -> text_norm, attentive pool (sos / cond_BD), cross-attention memory,
 *    shared AdaLN parameters, the head's AdaLN parameters, and the first scale's input;
 *  - embed: the next scale's input from BSQ codes (word_embed + level embedding);
 *  - block: one transformer block for one scale, reading the layer's KV cache and returning it
 *    extended, plus what KV policies score with (window logits, attention mass per key);
 *  - head: AdaLN-before-head + bitwise classifier.
 * Weights use the official state_dict names so real checkpoints load as they are.
 */
import { Graph } from '../onnx/graph';
import type { InfinityConfig } from '../../src/model/config';
import { expectTensor, type WeightSource } from '../../src/model/weights';
import { blockPrefixes } from './infinityNames';

const NEG = -1e9;

function hd(cfg: InfinityConfig): number {
  return cfg.embedDim / cfg.numHeads;
}

/** [B, S, C] -> [B, H, S, d] */
function splitHeads(g: Graph, x: string, H: number, d: number): string {
  return g.transpose(g.reshape(x, [0, 0, H, d]), [0, 2, 1, 3]);
}

/** [B, H, S, d] -> [B, S, C] */
function mergeHeads(g: Graph, x: string, C: number): string {
  return g.reshape(g.transpose(x, [0, 2, 1, 3]), [0, 0, C]);
}

/** Scaled-dot-product attention; bias broadcast onto the logits when given. */
function attention(g: Graph, q: string, k: string, v: string, scale: number, bias?: string): { out: string; probs: string } {
  let logits = g.matmul(q, g.transpose(k, [0, 1, 3, 2]));
  if (scale !== 1) logits = g.mul(logits, g.scalarF(scale));
  if (bias) logits = g.add(logits, bias);
  const probs = g.softmax(logits, -1);
  return { out: g.matmul(probs, v), probs };
}

export function buildConditioningGraph(cfg: InfinityConfig, ws: WeightSource): Uint8Array {
  const g = new Graph('infinity_conditioning');
  const C = cfg.embedDim;
  const D = cfg.embedDim;
  const Ct5 = cfg.textChannels;
  const Hp = cfg.textPoolHeads;
  const dp = D / Hp;
  const text = g.input('text', 'float32', ['B', 'T', Ct5]);
  const mask = g.input('text_mask', 'float32', ['B', 'T']); // 1 valid, 0 padding

  const tn = g.rmsNorm(text, Ct5, cfg.normEps, expectTensor(ws, 'text_norm.weight', [Ct5]), 'text_norm');

  // attentive pool: one learned query per head over the prompt's tokens
  const poolQ = expectTensor(ws, 'text_proj_for_sos.ca.mat_q', [1, Hp, dp]);
  const kvW = expectTensor(ws, 'text_proj_for_sos.ca.mat_kv.weight', [2 * D, Ct5]);
  const vBias = expectTensor(ws, 'text_proj_for_sos.ca.v_bias', [D]);
  const kvb = new Float32Array(2 * D);
  kvb.set(vBias, D);
  const kv = g.linear(tn, 'text_proj_for_sos.ca.mat_kv', kvW, 2 * D, Ct5, kvb); // [B,T,2D]
  const kv5 = g.reshape(kv, [0, 0, 2, Hp, dp]);
  const pk = g.transpose(g.op('Gather', [kv5, g.constI64([0], [])], { axis: 2 }), [0, 2, 1, 3]); // [B,Hp,T,dp]
  const pv = g.transpose(g.op('Gather', [kv5, g.constI64([1], [])], { axis: 2 }), [0, 2, 1, 3]);
  const q = g.weight('text_proj_for_sos.ca.mat_q', poolQ, [1, Hp, 1, dp]);
  const maskBias = g.reshape(g.mul(g.sub(g.scalarF(1), mask), g.scalarF(NEG)), [0, 1, 1, -1]); // [B,1,1,T]
  const pooled = attention(g, q, pk, pv, 1 / Math.sqrt(dp), maskBias).out; // [B,Hp,1,dp]
  const pooledBD = g.reshape(g.transpose(pooled, [0, 2, 1, 3]), [0, D]);
  const cond = g.linear(
    pooledBD,
    'text_proj_for_sos.ca.proj',
    expectTensor(ws, 'text_proj_for_sos.ca.proj.weight', [D, D]),
    D,
    D,
    expectTensor(ws, 'text_proj_for_sos.ca.proj.bias', [D]),
  ); // [B,D] = sos = cond_BD

  // cross-attention memory
  let ca = g.linear(
    tn,
    'text_proj_for_ca.0',
    expectTensor(ws, 'text_proj_for_ca.0.weight', [D, Ct5]),
    D,
    Ct5,
    expectTensor(ws, 'text_proj_for_ca.0.bias', [D]),
  );
  ca = g.geluTanh(ca);
  ca = g.linear(
    ca,
    'text_proj_for_ca.2',
    expectTensor(ws, 'text_proj_for_ca.2.weight', [D, D]),
    D,
    D,
    expectTensor(ws, 'text_proj_for_ca.2.bias', [D]),
  );

  // both AdaLN projections read the same SiLU(cond)
  const act = g.silu(cond);
  // shared AdaLN: SiLU -> Linear(D, 6C), laid out as (gamma1, gamma2, scale1, scale2, shift1, shift2)
  const gss = g.reshape(
    g.linear(
      act,
      'shared_ada_lin.1',
      expectTensor(ws, 'shared_ada_lin.1.weight', [6 * C, D]),
      6 * C,
      D,
      expectTensor(ws, 'shared_ada_lin.1.bias', [6 * C]),
    ),
    [0, 6, C],
  );
  const headSS = g.reshape(
    g.linear(
      act,
      'head_nm.ada_lin.1',
      expectTensor(ws, 'head_nm.ada_lin.1.weight', [2 * C, D]),
      2 * C,
      D,
      expectTensor(ws, 'head_nm.ada_lin.1.bias', [2 * C]),
    ),
    [0, 2, C],
  );

  // first scale: sos + pos_start + level-0 embedding
  const posStart = g.weight('pos_start', expectTensor(ws, 'pos_start', [1, 1, C]), [1, 1, C]);
  const lvl = expectTensor(ws, 'lvl_embed.weight', [cfg.levels, C]);
  const lvl0 = g.constF(lvl.subarray(0, C), [1, 1, C]);
  const x0 = g.add(g.add(g.reshape(cond, [0, 1, C]), posStart), lvl0);

  g.outputAs(cond, 'cond', 'float32', ['B', D]);
  g.outputAs(ca, 'ca_kv', 'float32', ['B', 'T', D]);
  g.outputAs(maskBias, 'ca_bias', 'float32', ['B', 1, 1, 'T']);
  g.outputAs(gss, 'gss', 'float32', ['B', 6, C]);
  g.outputAs(headSS, 'head_ss', 'float32', ['B', 2, C]);
  g.outputAs(x0, 'x0', 'float32', ['B', 1, C]);
  return g.toBytes();
}

/** word_embed(codes) + lvl_embed[level] for scales after the first. */
export function buildEmbedGraph(cfg: InfinityConfig, ws: WeightSource): Uint8Array {
  const g = new Graph('infinity_embed');
  const C = cfg.embedDim;
  const d = cfg.codebookDim;
  const codes = g.input('codes', 'float32', ['B', 'L', d]);
  const level = g.input('level', 'int64', [1]);
  const x = g.linear(codes, 'word_embed', expectTensor(ws, 'word_embed.weight', [C, d]), C, d, expectTensor(ws, 'word_embed.bias', [C]));
  const table = g.weight('lvl_embed.weight', expectTensor(ws, 'lvl_embed.weight', [cfg.levels, C]), [cfg.levels, C]);
  const row = g.op('Gather', [table, level], { axis: 0 }); // [1, C]
  g.outputAs(g.add(x, row), 'x', 'float32', ['B', 'L', C]);
  return g.toBytes();
}

export interface BlockGraphOptions {
  /** output the attention probability mass per cached key summed over queries (H2O, ASI) */
  colsum: boolean;
  /**
   * output asi_stats [B,H,2]: per (row, head), the mean over this scale's queries of (0) the attention
   * share on the current map and (1) the sum of the top-K' attention weights on the history, with K' fed
   * as input asi_k (int64 [1], at most the history length P; P must be > 0). The paper's Eq. 2 factors;
   * calibration only, so the default graph has neither the input nor the output.
   */
  asiStats?: boolean;
}

/**
 * One block for one scale. Inputs: x [B,L,C], gss [B,6,C], rope_cos/rope_sin [L, d/2] for this scale's
 * positions, past_k/past_v [B,H,P,d] (P may be 0), ca_kv [B,T,D], ca_bias [B,1,1,T], win_idx int64 [W]
 * (local query rows to score against the cache; W may be 0).
 * Outputs: y, k_all/v_all [B,H,P+L,d], win_code/win_paper [B,H,W,P+L] and optionally colsum [B,H,P+L].
 */
export function buildBlockGraph(cfg: InfinityConfig, ws: WeightSource, index: number, opts: BlockGraphOptions): Uint8Array {
  const prefix = blockPrefixes(ws, cfg.depth)[index];
  const t = (n: string, shape: number[]) => expectTensor(ws, prefix + n, shape);
  const g = new Graph(`infinity_block_${index}`);
  const C = cfg.embedDim;
  const D = cfg.embedDim;
  const H = cfg.numHeads;
  const d = hd(cfg);
  const F = cfg.mlpHidden;

  const x = g.input('x', 'float32', ['B', 'L', C]);
  const gssIn = g.input('gss', 'float32', ['B', 6, C]);
  const cos = g.input('rope_cos', 'float32', ['L', d / 2]);
  const sin = g.input('rope_sin', 'float32', ['L', d / 2]);
  const pastK = g.input('past_k', 'float32', ['B', H, 'P', d]);
  const pastV = g.input('past_v', 'float32', ['B', H, 'P', d]);
  const caKv = g.input('ca_kv', 'float32', ['B', 'T', D]);
  const caBias = g.input('ca_bias', 'float32', ['B', 1, 1, 'T']);
  const winIdx = g.input('win_idx', 'int64', ['W']);
  const asiK = opts.asiStats ? g.input('asi_k', 'int64', [1]) : null;

  const gss = g.add(gssIn, g.weight(prefix + 'ada_gss', t('ada_gss', [1, 1, 6, C]), [1, 6, C]));
  const part = (i: number) => g.op('Gather', [gss, g.constI64([i], [])], { axis: 1 }); // [B, C]
  const unsq = (v: string) => g.reshape(v, [0, 1, C]);
  const [gamma1, gamma2, scale1, scale2, shift1, shift2] = [0, 1, 2, 3, 4, 5].map((i) => unsq(part(i)));
  const one = g.scalarF(1);
  const ln = (v: string) => g.layerNorm(v, C, cfg.normEps, null, null);

  // ---- self-attention with the per-scale KV cache
  const xsa = g.add(g.mul(ln(x), g.add(scale1, one)), shift1);
  const Wqkv = t('sa.mat_qkv.weight', [3 * C, C]);
  const qkvBias = new Float32Array(3 * C);
  qkvBias.set(t('sa.q_bias', [C]), 0);
  qkvBias.set(t('sa.v_bias', [C]), 2 * C);
  const qkv = g.linear(xsa, prefix + 'sa.mat_qkv', Wqkv, 3 * C, C, qkvBias); // [B,L,3C]
  const qkv5 = g.reshape(qkv, [0, 0, 3, H, d]);
  const pick = (i: number) => g.transpose(g.op('Gather', [qkv5, g.constI64([i], [])], { axis: 2 }), [0, 2, 1, 3]); // [B,H,L,d]
  const scaleMul = t('sa.scale_mul_1H11', [1, H, 1, 1]);
  const maxLog = Math.log(100);
  const headScale = Float32Array.from(scaleMul, (v) => Math.exp(Math.min(v, maxLog)));
  let q = g.mul(g.l2normalize(pick(0)), g.constF(headScale, [1, H, 1, 1]));
  let k = g.l2normalize(pick(1));
  const v = pick(2);

  // 2-D RoPE on (even, odd) pairs of each head's channels
  const rope = (z: string) => {
    const pairs = g.reshape(z, [0, 0, 0, d / 2, 2]);
    const a = g.op('Gather', [pairs, g.constI64([0], [])], { axis: 4 });
    const b = g.op('Gather', [pairs, g.constI64([1], [])], { axis: 4 });
    const ra = g.sub(g.mul(cos, a), g.mul(sin, b));
    const rb = g.add(g.mul(sin, a), g.mul(cos, b));
    const st = g.concat([g.op('Unsqueeze', [ra, g.constI64([4])]), g.op('Unsqueeze', [rb, g.constI64([4])])], 4);
    return g.reshape(st, [0, 0, 0, d]);
  };
  q = rope(q);
  k = rope(k);
  const kAll = g.concat([pastK, k], 2);
  const vAll = g.concat([pastV, v], 2);
  const sa = attention(g, q, kAll, vAll, 1);
  const saOut = g.linear(mergeHeads(g, sa.out, C), prefix + 'sa.proj', t('sa.proj.weight', [C, C]), C, C, t('sa.proj.bias', [C]));
  let h = g.add(x, g.mul(saOut, gamma1));

  // ---- cross-attention to the text
  const hn = g.layerNorm(h, C, cfg.normEps, t('ca_norm.weight', [C]), t('ca_norm.bias', [C]), prefix + 'ca_norm');
  const cq = splitHeads(g, g.linear(hn, prefix + 'ca.mat_q', t('ca.mat_q.weight', [C, C]), C, C, t('ca.mat_q.bias', [C])), H, d);
  const caKvBias = new Float32Array(2 * C);
  caKvBias.set(t('ca.v_bias', [C]), C);
  const ckv = g.reshape(g.linear(caKv, prefix + 'ca.mat_kv', t('ca.mat_kv.weight', [2 * C, D]), 2 * C, D, caKvBias), [0, 0, 2, H, d]);
  const ck = g.transpose(g.op('Gather', [ckv, g.constI64([0], [])], { axis: 2 }), [0, 2, 1, 3]);
  const cv = g.transpose(g.op('Gather', [ckv, g.constI64([1], [])], { axis: 2 }), [0, 2, 1, 3]);
  const ca = attention(g, cq, ck, cv, 1 / Math.sqrt(d), caBias);
  h = g.add(h, g.linear(mergeHeads(g, ca.out, C), prefix + 'ca.proj', t('ca.proj.weight', [C, C]), C, C, t('ca.proj.bias', [C])));

  // ---- FFN (GELU-tanh MLP)
  const xf = g.add(g.mul(ln(h), g.add(scale2, one)), shift2);
  let f = g.linear(xf, prefix + 'ffn.fc1', t('ffn.fc1.weight', [F, C]), F, C, t('ffn.fc1.bias', [F]));
  f = g.linear(g.geluTanh(f), prefix + 'ffn.fc2', t('ffn.fc2.weight', [C, F]), C, F, t('ffn.fc2.bias', [C]));
  h = g.add(h, g.mul(f, gamma2));

  // ---- what KV policies score with
  const kT = g.transpose(kAll, [0, 1, 3, 2]);
  // official ScaleKV re-projects the block's attention input without the q bias, before normalisation and RoPE
  const qRawW = Wqkv.subarray(0, C * C);
  const qRaw = splitHeads(g, g.linear(xsa, prefix + 'sa.mat_q_raw', qRawW, C, C, null), H, d);
  const winCode = g.mul(g.matmul(g.op('Gather', [qRaw, winIdx], { axis: 2 }), kT), g.scalarF(1 / Math.sqrt(d)));
  const winPaper = g.matmul(g.op('Gather', [q, winIdx], { axis: 2 }), kT);

  g.outputAs(h, 'y', 'float32', ['B', 'L', C]);
  g.outputAs(kAll, 'k_all', 'float32', ['B', H, 'N', d]);
  g.outputAs(vAll, 'v_all', 'float32', ['B', H, 'N', d]);
  g.outputAs(winCode, 'win_code', 'float32', ['B', H, 'W', 'N']);
  g.outputAs(winPaper, 'win_paper', 'float32', ['B', H, 'W', 'N']);
  if (opts.colsum) g.outputAs(g.reduceSum(sa.probs, [2], 0), 'colsum', 'float32', ['B', H, 'N']);
  if (asiK) g.outputAs(asiStatsOf(g, sa.probs, pastK, asiK), 'asi_stats', 'float32', ['B', H, 2]);
  return g.toBytes();
}

/** [B,H,2]: per-query current-map share and top-K' history sum, averaged over the queries. */
function asiStatsOf(g: Graph, probs: string, pastK: string, k: string): string {
  const P = g.op('Slice', [g.op('Shape', [pastK]), g.constI64([2]), g.constI64([3]), g.constI64([0])]); // [1]
  const hist = g.op('Slice', [probs, g.constI64([0]), P, g.constI64([3])]);
  const cur = g.op('Slice', [probs, P, g.constI64([2 ** 62]), g.constI64([3])]);
  const curShare = g.reduceSum(cur, [3], 0); // [B,H,L]
  const [top] = g.opN('TopK', [hist, k], { axis: 3, largest: 1, sorted: 1 }, 2);
  const topSum = g.reduceSum(top, [3], 0);
  const stack = g.concat([g.op('Unsqueeze', [curShare, g.constI64([3])]), g.op('Unsqueeze', [topSum, g.constI64([3])])], 3); // [B,H,L,2]
  return g.reduceMean(stack, [2], 0);
}

/**
 * The asi_stats computation alone, on given attention probabilities [B,H,L,N] with the history length
 * taken from past_k [B,H,P,d]: lets tests check the block graph's statistic on hand-made attention maps.
 */
export function buildAsiStatsProbe(H: number): Uint8Array {
  const g = new Graph('asi_stats_probe');
  const probs = g.input('probs', 'float32', ['B', H, 'L', 'N']);
  const pastK = g.input('past_k', 'float32', ['B', H, 'P', 'D']);
  const k = g.input('asi_k', 'int64', [1]);
  g.outputAs(asiStatsOf(g, probs, pastK, k), 'asi_stats', 'float32', ['B', H, 2]);
  return g.toBytes();
}

export function buildHeadGraph(cfg: InfinityConfig, ws: WeightSource): Uint8Array {
  const g = new Graph('infinity_head');
  const C = cfg.embedDim;
  const V = cfg.codebookDim * 2;
  const h = g.input('h', 'float32', ['B', 'L', C]);
  const ss = g.input('head_ss', 'float32', ['B', 2, C]);
  const part = (i: number) => g.reshape(g.op('Gather', [ss, g.constI64([i], [])], { axis: 1 }), [0, 1, C]);
  const x = g.add(g.mul(g.layerNorm(h, C, cfg.normEps, null, null), g.add(part(0), g.scalarF(1))), part(1));
  const logits = g.linear(x, 'head', expectTensor(ws, 'head.weight', [V, C]), V, C, expectTensor(ws, 'head.bias', [V]));
  g.outputAs(logits, 'logits', 'float32', ['B', 'L', V]);
  return g.toBytes();
}

/** Gather kept cache entries per (row, head): cache [B,H,N,d], idx int64 [B*H*K] flat into B*H*N rows. */
export function buildKvGatherGraph(H: number, d: number): Uint8Array {
  const g = new Graph('kv_gather');
  const k = g.input('k', 'float32', ['B', H, 'N', d]);
  const v = g.input('v', 'float32', ['B', H, 'N', d]);
  const idx = g.input('idx', 'int64', ['M']);
  const shape = g.input('out_shape', 'int64', [4]);
  const flat = (z: string) => g.reshape(z, [-1, d]);
  g.outputAs(g.op('Reshape', [g.op('Gather', [flat(k), idx], { axis: 0 }), shape]), 'k_kept', 'float32', ['B', H, 'K', d]);
  g.outputAs(g.op('Reshape', [g.op('Gather', [flat(v), idx], { axis: 0 }), shape]), 'v_kept', 'float32', ['B', H, 'K', d]);
  return g.toBytes();
}
