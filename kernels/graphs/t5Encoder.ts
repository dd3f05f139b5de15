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

export function buildT5EncoderGraph(cfg: T5Config, ws: WeightSource): Uint8Array {
  const g = new Graph('t5_encoder');
  const D = cfg.dModel;
  const H = cfg.numHeads;
  const dk = cfg.dKv;
  const inner = H * dk;
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const mask = g.input('attention_mask', 'float32', ['B', 'T']);
  const buckets = g.input('rel_buckets', 'int64', ['T', 'T']);

  const embName = ws.has('shared.weight') ? 'shared.weight' : 'encoder.embed_tokens.weight';
  const emb = g.weight(embName, expectTensor(ws, embName, [cfg.vocabSize, D]), [cfg.vocabSize, D]);
  let x = g.op('Gather', [emb, ids], { axis: 0 }); // [B,T,D]

  const relName = 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';
  const rel = g.weight(relName, expectTensor(ws, relName, [cfg.relativeBuckets, H]), [cfg.relativeBuckets, H]);
  const posBias = g.transpose(g.op('Gather', [rel, buckets], { axis: 0 }), [2, 0, 1]); // [H,T,T]
  const maskBias = g.reshape(g.mul(g.sub(g.scalarF(1), mask), g.scalarF(-1e9)), [0, 1, 1, -1]);
  const bias = g.add(g.op('Unsqueeze', [posBias, g.constI64([0])]), maskBias); // [B,H,T,T]

  const lin = (v: string, name: string, out: number, inp: number) =>
    g.linear(v, name, expectTensor(ws, `${name}.weight`, [out, inp]), out, inp, null);
  const heads = (v: string) => g.transpose(g.reshape(v, [0, 0, H, dk]), [0, 2, 1, 3]);
  for (let i = 0; i < cfg.numLayers; i++) {
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
  x = g.rmsNorm(x, D, cfg.eps, expectTensor(ws, 'encoder.final_layer_norm.weight', [D]), 'encoder.final_layer_norm');
  g.outputAs(x, 'last_hidden_state', 'float32', ['B', 'T', D]);
  return g.toBytes();
}
