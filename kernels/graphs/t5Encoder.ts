/**
 * The T5 encoder (flan-t5-xl's, whose last hidden state conditions Infinity) as an ONNX graph: token
 * embedding, pre-norm blocks of self-attention with T5's shared relative position bias (no 1/sqrt(d)
 * scaling) and a gated-GELU (or ReLU) feed-forward, RMS norms without mean subtraction.
 */
import { Graph } from '../onnx/graph';
import type { T5Config } from '../../src/model/config';
import { expectTensor, type WeightSource } from '../../src/model/weights';

/** T5's bidirectional relative-position bucket of (query i, key j), float32 as torch computes it. */
export function relativeBucket(rel: number, buckets: number, maxDistance: number): number {
  const half = buckets / 2;
  let ret = rel > 0 ? half : 0;
  const n = Math.abs(rel);
  const maxExact = half / 2;
  if (n < maxExact) return ret + n;
  const f = Math.fround;
  const large = Math.trunc(f(f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact))) * (half - maxExact)));
  ret += Math.min(maxExact + large, half - 1);
  return ret;
}

/** int64 [T, T] bucket ids for a sequence of length T */
export function relativeBuckets(T: number, buckets: number, maxDistance: number): BigInt64Array {
  const out = new BigInt64Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) out[i * T + j] = BigInt(relativeBucket(j - i, buckets, maxDistance));
  return out;
}

/**
 * Weight bytes one encoder graph may hold. flan-t5-xl's encoder is 4.9 GB of float32 weights: as one
 * graph it cannot even be serialised (a typed array stops at 4 GiB, and onnxruntime refuses protobufs
 * over 2 GiB), so the layers are split into consecutive parts under this budget, run one after another.
 */
export const T5_PART_BYTES = 2 ** 30;

/** float32 bytes of one encoder layer's weights */
function layerBytes(cfg: T5Config): number {
  const inner = cfg.numHeads * cfg.dKv;
  const ff = (cfg.gatedGelu ? 3 : 2) * cfg.dModel * cfg.dFf;
  return 4 * (4 * cfg.dModel * inner + ff + 2 * cfg.dModel);
}

/**
 * The encoder's layers as consecutive [from, to) parts, each with at most maxBytes of weights (the
 * embedding counts towards the first), at least one layer per part.
 */
export function t5EncoderParts(cfg: T5Config, maxBytes = T5_PART_BYTES): [number, number][] {
  const layer = layerBytes(cfg);
  const parts: [number, number][] = [];
  let from = 0;
  let bytes = 4 * cfg.vocabSize * cfg.dModel;
  for (let i = 0; i < cfg.numLayers; i++) {
    if (i > from && bytes + layer > maxBytes) {
      parts.push([from, i]);
      from = i;
      bytes = 0;
    }
    bytes += layer;
  }
  parts.push([from, cfg.numLayers]);
  return parts;
}

/**
 * Part k of the encoder (t5EncoderParts), built one at a time so only one part's weights are in memory
 * as graph bytes. The first takes input_ids, attention_mask and rel_buckets; the last outputs
 * last_hidden_state. Between parts flow the hidden states (`hidden_out`, fed to the next as `hidden`
 * [B,T,D]) and the first part's attention `bias` [B,H,T,T] (relative positions and padding), which
 * every layer shares.
 */
export function buildT5EncoderPart(cfg: T5Config, ws: WeightSource, parts: [number, number][], k: number): Uint8Array {
  const [from, to] = parts[k];
  const first = k === 0;
  const last = k === parts.length - 1;
  const g = new Graph(`t5_encoder_${from}_${to}`);
  const D = cfg.dModel;
  const H = cfg.numHeads;
  const dk = cfg.dKv;
  const inner = H * dk;
  let x: string;
  let bias: string;
  if (first) {
    const ids = g.input('input_ids', 'int64', ['B', 'T']);
    const mask = g.input('attention_mask', 'float32', ['B', 'T']);
    const buckets = g.input('rel_buckets', 'int64', ['T', 'T']);
    const embName = ws.has('shared.weight') ? 'shared.weight' : 'encoder.embed_tokens.weight';
    const emb = g.weight(embName, expectTensor(ws, embName, [cfg.vocabSize, D]), [cfg.vocabSize, D]);
    x = g.op('Gather', [emb, ids], { axis: 0 }); // [B,T,D]
    const relName = 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';
    const rel = g.weight(relName, expectTensor(ws, relName, [cfg.relativeBuckets, H]), [cfg.relativeBuckets, H]);
    const posBias = g.transpose(g.op('Gather', [rel, buckets], { axis: 0 }), [2, 0, 1]); // [H,T,T]
    const maskBias = g.reshape(g.mul(g.sub(g.scalarF(1), mask), g.scalarF(-1e9)), [0, 1, 1, -1]);
    bias = g.add(g.op('Unsqueeze', [posBias, g.constI64([0])]), maskBias); // [B,H,T,T]
    if (!last) g.outputAs(bias, 'bias', 'float32', ['B', H, 'T', 'T']);
  } else {
    x = g.input('hidden', 'float32', ['B', 'T', D]);
    bias = g.input('bias', 'float32', ['B', H, 'T', 'T']);
  }

  const lin = (v: string, name: string, out: number, inp: number) =>
    g.linear(v, name, expectTensor(ws, `${name}.weight`, [out, inp]), out, inp, null);
  const heads = (v: string) => g.transpose(g.reshape(v, [0, 0, H, dk]), [0, 2, 1, 3]);
  for (let i = from; i < to; i++) {
    const p = `encoder.block.${i}.layer.`;
    const n0 = g.rmsNorm(x, D, cfg.eps, expectTensor(ws, `${p}0.layer_norm.weight`, [D]), `${p}0.layer_norm`);
    const q = heads(lin(n0, `${p}0.SelfAttention.q`, inner, D));
    const k = heads(lin(n0, `${p}0.SelfAttention.k`, inner, D));
    const v = heads(lin(n0, `${p}0.SelfAttention.v`, inner, D));
    const probs = g.softmax(g.add(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), bias), -1);
    const o = g.reshape(g.transpose(g.matmul(probs, v), [0, 2, 1, 3]), [0, 0, inner]);
    x = g.add(x, lin(o, `${p}0.SelfAttention.o`, D, inner));
    const n1 = g.rmsNorm(x, D, cfg.eps, expectTensor(ws, `${p}1.layer_norm.weight`, [D]), `${p}1.layer_norm`);
    let f: string;
    if (cfg.gatedGelu) {
      f = g.mul(g.geluTanh(lin(n1, `${p}1.DenseReluDense.wi_0`, cfg.dFf, D)), lin(n1, `${p}1.DenseReluDense.wi_1`, cfg.dFf, D));
    } else {
      f = g.op('Relu', [lin(n1, `${p}1.DenseReluDense.wi`, cfg.dFf, D)]);
    }
    x = g.add(x, lin(f, `${p}1.DenseReluDense.wo`, D, cfg.dFf));
  }
  if (last) {
    x = g.rmsNorm(x, D, cfg.eps, expectTensor(ws, 'encoder.final_layer_norm.weight', [D]), 'encoder.final_layer_norm');
    g.outputAs(x, 'last_hidden_state', 'float32', ['B', 'T', D]);
  } else {
    g.outputAs(x, 'hidden_out', 'float32', ['B', 'T', D]);
  }
  return g.toBytes();
}
