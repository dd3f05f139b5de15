/**
 * One scale of Infinity in one graph: the next scale's embedding, every block with its KV cache and
 * the in-graph token selection, and the bitwise head. Built per scale with that scale's static shapes
 * (token count, cache lengths, budgets, window, RoPE table), so attention can run in query chunks
 * whose score blocks stay small and no [L x N] score matrix ever exists. Weights are graph inputs
 * (kernels/graphs/stepWeights.ts), uploaded once and shared by every scale's graph.
 *
 * Precision: matrices, attention and the KV cache in the compute precision (float16 on GPUs); the
 * residual stream, norms, q/k normalisation and RoPE, the modulation, the window scores and the
 * logits in float32.
 *
 * Inputs: x0 [B,1,C] (first scale) or codes [B,L,dc] (later scales), gss [B,6,C], head_ss [B,2,C],
 * ca_kv [B,T,D], ca_bias [B,1,1,T], past_k{l}/past_v{l} [B,H,P_l,d] where P_l > 0, and the weights.
 * Outputs: logits [B,L,2dc]; unless last, k{l}/v{l} [B,H,P'_l,d]; where any layer selects, keep int32:
 * every selecting layer's [B,H,cap] indices flattened and concatenated in layer order (one output, because
 * each output read on the host is a GPU round trip of its own: 32 of them cost ~90 ms per scale); with
 * debugScores, win{l} [B,H,W,N] float32.
 */
import type { InfinityConfig } from '../../src/model/config';
import { floatAttr, Graph, rawBytes } from '../onnx/graph';
import { gatherKept, selectIndices, type InGraphSelection } from './kvSelect';
import { stepWeights, weightDtype, type StepPrecision } from './stepWeights';

export interface StepLayerPlan {
  /** cached entries before this scale */
  pastLen: number;
  select: InGraphSelection | null;
}

export interface ScaleStepPlan {
  rows: number;
  scaleIndex: number;
  h: number;
  w: number;
  first: boolean;
  /** the last scale: no cache is needed afterwards */
  last: boolean;
  /** [L, d/2] rotary tables for this scale (src/engine/rope.ts) */
  ropeCos: Float32Array;
  ropeSin: Float32Array;
  layers: StepLayerPlan[];
  precision: StepPrecision;
  /** queries per attention chunk; 0 sizes chunks per layer by chunkFor */
  queryChunk: number;
  /** queries per chunk for a layer attending to `keys` keys */
  chunkFor?: (keys: number) => number;
  /**
   * attention's key count rounded up to a multiple of this (0 or 1: as it is). onnxruntime's WebGPU
   * MatMul runs its vec4 tiles only when the inner size and the output width are multiples of 4, and a
   * scale's key count (10,521 at 1024x1024) rarely is: both attention products then fell to its scalar
   * kernel, ~4x slower per FLOP than the linear layers (bench/gpu.md, seventh round)
   */
  keyAlign?: number;
  /** also output the window scores (tests) */
  debugScores?: boolean;
}

const F32 = 1;
const F16 = 10;
/** a padded key's score: exp(-30000 - max) is exactly 0 in float16 and float32 */
const PAD_SCORE = -30000;

export function buildScaleStepGraph(cfg: InfinityConfig, plan: ScaleStepPlan): Uint8Array {
  return scaleStepGraph(cfg, plan).toBytes();
}

/** the graph itself, for tests that read its nodes */
export function scaleStepGraph(cfg: InfinityConfig, plan: ScaleStepPlan): Graph {
  const g = new Graph(`infinity_scale_${plan.scaleIndex}`);
  const B = plan.rows;
  const C = cfg.embedDim;
  const H = cfg.numHeads;
  const d = C / H;
  const dc = cfg.codebookDim;
  const L = plan.h * plan.w;
  const half = plan.precision === 'float16';
  const cdt = plan.precision;
  const toC = (x: string) => (half ? g.op('Cast', [x], { to: F16 }) : x);
  const toF = (x: string) => (half ? g.op('Cast', [x], { to: F32 }) : x);

  const W: Record<string, string> = {};
  for (const w of stepWeights(cfg, null)) {
    W[w.name] = g.input(`w.${w.name}`, weightDtype(w, plan.precision), w.dims);
  }
  const linear = (x: string, name: string) => g.add(g.matmul(toC(x), W[`${name}.t`]), W[`${name}.bias`]);

  const gssIn = g.input('gss', 'float32', [B, 6, C]);
  const headSS = g.input('head_ss', 'float32', [B, 2, C]);
  const caKv = g.input('ca_kv', 'float32', [B, 'T', C]);
  const caBias = g.input('ca_bias', 'float32', [B, 1, 1, 'T']);

  // ---- this scale's input (float32 residual stream)
  let x: string;
  if (plan.first) {
    x = g.input('x0', 'float32', [B, 1, C]);
  } else {
    const codes = g.input('codes', 'float32', [B, L, dc]);
    const lvl = g.op('Gather', [W['lvl_embed'], g.constI64([plan.scaleIndex])], { axis: 0 }); // [1, C]
    x = g.add(toF(linear(codes, 'word_embed')), lvl);
  }

  const cos = g.constF(plan.ropeCos, [L, d / 2], 'cos');
  const sin = g.constF(plan.ropeSin, [L, d / 2], 'sin');
  // positions are the table's rows: an offset of 0 into this scale's own [L, d/2] table
  const posIds = g.initializer(g.fresh('pos'), 'int64', [1], rawBytes(BigInt64Array.of(0n)));
  // 2-D RoPE on (even, odd) channel pairs: one RotaryEmbedding op instead of a dozen elementwise ones
  const rope = (z: string) => g.op('RotaryEmbedding', [z, posIds, cos, sin], { interleaved: 1 }, 1, 'com.microsoft');
  // F.normalize over a head's channels as an RMS norm scaled by 1/sqrt(d): x / sqrt(sum x^2) in one op
  const invSqrtD = g.constF(new Float32Array(d).fill(1 / Math.sqrt(d)), [d], 'l2w');
  const l2norm = (z: string) => g.op('SimplifiedLayerNormalization', [z, invSqrtD], { axis: -1, epsilon: floatAttr(1e-24 / d) });
  const ones = g.constF(new Float32Array(C).fill(1), [C]);
  const zeros = g.constF(new Float32Array(C), [C]);
  const ln = (v: string, wgt = ones, bias = zeros) =>
    g.op('LayerNormalization', [v, wgt, bias], { axis: -1, epsilon: floatAttr(cfg.normEps) });
  const heads = (z: string, n: number) => g.transpose(g.reshape(z, [B, n, H, d]), [0, 2, 1, 3]); // [B,n,C] -> [B,H,n,d]
  const merge = (z: string, n: number) => g.reshape(g.transpose(z, [0, 2, 1, 3]), [B, n, C]);
  const caKvC = toC(caKv);
  const padded = keyPadding(g, { B, H, L, d, align: plan.keyAlign ?? 0, toC });
  const caBiasC = toC(caBias);
  const deferred: (() => void)[] = [];
  const keeps: string[] = [];
  let keepLen = 0;

  plan.layers.forEach((lp, l) => {
    const b = `b${l}.`;
    // ada_gss's scale rows carry the 1 of (1 + scale) (stepWeights), so one Split yields all six
    const [gamma1, gamma2, scale1, scale2, shift1, shift2] = g.opN('Split', [g.add(gssIn, W[b + 'ada_gss'])], { axis: 1 }, 6);

    // ---- self-attention over [past cache, this scale]
    const xsa = toC(g.add(g.mul(ln(x), scale1), shift1));
    const qkv = g.reshape(g.add(g.matmul(xsa, W[b + 'qkv.t']), W[b + 'qkv.bias']), [B, L, 3, H, d]);
    // [B,L,3,H,d] -> [3,B,H,L,d] -> q, k, v [B,H,L,d]: one transpose and one split
    const [qP, kP, vP] = g.opN('Split', [g.transpose(qkv, [2, 0, 3, 1, 4])], { axis: 0 }, 3).map((z) => g.reshape(z, [B, H, L, d]));
    const q32 = rope(g.mul(l2norm(toF(qP)), W[b + 'head_scale']));
    const kNew = toC(rope(l2norm(toF(kP))));
    const vNew = vP;
    const N = lp.pastLen + L;
    const kAll = lp.pastLen ? g.concat([g.input(`past_k${l}`, cdt, [B, H, lp.pastLen, d]), kNew], 2) : kNew;
    const vAll = lp.pastLen ? g.concat([g.input(`past_v${l}`, cdt, [B, H, lp.pastLen, d]), vNew], 2) : vNew;
    const q = toC(q32);
    const kv = padded.keys(q, kAll, vAll, N);
    const kTA = g.transpose(kv.k, [0, 1, 3, 2]); // [B,H,d(+4),N(+pad)], shared by every query chunk
    const chunk = plan.queryChunk || plan.chunkFor?.(N) || L;
    const chunks: string[] = [];
    for (let c0 = 0; c0 < L; c0 += chunk) {
      const c1 = Math.min(L, c0 + chunk);
      const qc = L <= chunk ? kv.q : g.op('Slice', [kv.q, g.constI64([c0]), g.constI64([c1]), g.constI64([2])]);
      chunks.push(g.matmul(g.softmax(g.matmul(qc, kTA), -1), kv.v));
    }
    const att = chunks.length === 1 ? chunks[0] : g.concat(chunks, 2);
    x = g.add(x, g.mul(toF(linear(merge(att, L), b + 'proj')), gamma1));

    // ---- cross-attention to the text
    const hn = ln(x, W[b + 'ca_norm.weight'], W[b + 'ca_norm.bias']);
    const cq = heads(linear(hn, b + 'ca_q'), L);
    const ckv = g.reshape(linear(caKvC, b + 'ca_kv'), [B, -1, 2, H, d]);
    const ck = g.transpose(g.op('Gather', [ckv, g.constI64([0], [])], { axis: 2 }), [0, 2, 3, 1]); // [B,H,d,T]
    const cv = g.transpose(g.op('Gather', [ckv, g.constI64([1], [])], { axis: 2 }), [0, 2, 1, 3]); // [B,H,T,d]
    const cs = g.add(g.matmul(cq, ck), caBiasC); // ca_q carries the 1/sqrt(d) (stepWeights)
    x = g.add(x, toF(linear(merge(g.matmul(g.softmax(cs, -1), cv), L), b + 'ca_proj')));

    // ---- FFN
    const xf = g.add(g.mul(ln(x), scale2), shift2);
    // bias + GELU(tanh) in one op
    const h1 = g.op('FastGelu', [g.matmul(toC(xf), W[b + 'fc1.t']), W[b + 'fc1.bias']], {}, 1, 'com.microsoft');
    const f = linear(h1, b + 'fc2');
    x = g.add(x, g.mul(toF(f), gamma2));

    // ---- token selection and the cache the next scale reads. The window scores are computed here, so
    // the block's activations can be freed; ranking and gathering are emitted after the head, so the
    // few nodes a GPU provider leaves to the CPU run once every block's work is queued
    let scores: string | null = null;
    if (lp.select) {
      const s = lp.select;
      const winIdx = g.constI64(Array.from(s.windowQueries));
      // the window scores rank the real keys only
      const kT32 = toF(kv.k === kAll ? kTA : g.transpose(kAll, [0, 1, 3, 2]));
      if (s.queryMode === 'code') {
        // the official window query: the raw q projection of the block's attention input, no bias
        const xw = g.op('Gather', [xsa, winIdx], { axis: 1 }); // [B,W,C]
        const qRaw = g.op('Slice', [g.matmul(xw, W[b + 'qkv.t']), g.constI64([0]), g.constI64([C]), g.constI64([2])]);
        scores = g.mul(g.matmul(toF(heads(qRaw, s.windowQueries.length)), kT32), g.scalarF(1 / Math.sqrt(d)));
      } else {
        scores = g.matmul(g.op('Gather', [q32, winIdx], { axis: 2 }), kT32);
      }
      if (plan.debugScores) g.outputAs(scores, `win${l}`, 'float32', [B, H, s.windowQueries.length, N]);
    }
    deferred.push(() => {
      let kOut = kAll;
      let vOut = vAll;
      if (lp.select && scores) {
        const keep = selectIndices(g, { scores, B, H, N }, lp.select);
        keeps.push(g.reshape(keep.local, [B * H * lp.select.capacity]));
        keepLen += B * H * lp.select.capacity;
        if (!plan.last) {
          kOut = gatherKept(g, kAll, keep.flat, B, H, lp.select.capacity, d);
          vOut = gatherKept(g, vAll, keep.flat, B, H, lp.select.capacity, d);
        }
      }
      if (!plan.last) {
        const P = lp.select ? lp.select.capacity : N;
        g.outputAs(kOut, `k${l}`, cdt, [B, H, P, d]);
        g.outputAs(vOut, `v${l}`, cdt, [B, H, P, d]);
      }
    });
  });

  // ---- bitwise head (float32)
  const hp = (i: number) => g.reshape(g.op('Gather', [headSS, g.constI64([i], [])], { axis: 1 }), [B, 1, C]);
  const xh = g.add(g.mul(ln(x), g.add(hp(0), g.scalarF(1))), hp(1));
  g.outputAs(g.add(g.matmul(xh, W['head.t']), W['head.bias']), 'logits', 'float32', [B, L, 2 * dc]);
  for (const emit of deferred) emit();
  if (keeps.length) g.outputAs(keeps.length === 1 ? keeps[0] : g.concat(keeps, 0), 'keep', 'int32', [keepLen]);
  return g;
}

/**
 * Attention over keys padded to a multiple of `align`: zero keys and values appended, and four channels
 * appended to every query (1, 0, 0, 0) and key (PAD_SCORE, 0, 0, 0 for a padded key; zeros for a real one),
 * so a padded key scores PAD_SCORE against every query and a real key scores exactly what it did. No
 * pass over the scores is added, and the head size stays a multiple of 4. The constants are shared by
 * every layer with the same key count.
 */
function keyPadding(g: Graph, o: { B: number; H: number; L: number; d: number; align: number; toC: (x: string) => string }) {
  const { B, H, L, d, align, toC } = o;
  const filled = (dims: number[], fill: (i: number) => number) => {
    const n = dims.reduce((a, b) => a * b, 1);
    return toC(
      g.constF(
        Float32Array.from({ length: n }, (_, i) => fill(i)),
        dims,
        'pad',
      ),
    );
  };
  const expand = (x: string, dims: number[]) => g.op('Expand', [x, g.constI64(dims)]);
  let queryTail: string | null = null;
  const keyTails = new Map<number, { rows: string; channels: string }>();
  return {
    keys(q: string, k: string, v: string, N: number): { q: string; k: string; v: string } {
      const Np = align > 1 ? Math.ceil(N / align) * align : N;
      if (Np === N) return { q, k, v };
      queryTail ??= expand(
        filled([1, 1, 1, 4], (i) => (i === 0 ? 1 : 0)),
        [B, H, L, 4],
      );
      let tail = keyTails.get(N);
      if (!tail) {
        tail = {
          rows: expand(
            filled([1, 1, 1, d], () => 0),
            [B, H, Np - N, d],
          ),
          channels: expand(
            filled([1, 1, Np, 4], (i) => (i % 4 === 0 && i / 4 >= N ? PAD_SCORE : 0)),
            [B, H, Np, 4],
          ),
        };
        keyTails.set(N, tail);
      }
      return {
        q: g.concat([q, queryTail], 3),
        k: g.concat([g.concat([k, tail.rows], 2), tail.channels], 3),
        v: g.concat([v, tail.rows], 2),
      };
    },
  };
}
