/**
 * Text encoder: the tokenizer picks the highest-scoring segmentation and appends </s>; T5's relative
 * position buckets match hand-computed values; the ONNX encoder matches a float64 T5 written from the
 * model's math, with padding; a wrongly shaped tensor is named.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { relativeBucket, t5EncoderParts, T5_PART_BYTES } from '../../../kernels/graphs/t5Encoder';
import { INFINITY_2B, TINY_T5, type T5Config } from '../../../src/model/config';
import { TextEncoder, textEncoderProvider } from '../../../src/engine/textEncoder';
import { withEnv } from '../engine/helpers';
import { makeTinyT5Weights } from '../../../src/model/tiny/t5Tiny';
import { makeTinyTokenizerJson } from '../../../src/model/tokenizer/tinyVocab';
import { UnigramTokenizer } from '../../../src/model/tokenizer/unigram';
import { MapWeights, type WeightSource } from '../../../src/model/weights';

test('Viterbi picks the best-scoring pieces, unknowns fuse, </s> is appended, truncation keeps </s>', () => {
  const tok = new UnigramTokenizer(
    {
      model: {
        type: 'Unigram',
        unk_id: 2,
        vocab: [
          ['<pad>', 0],
          ['</s>', 0],
          ['<unk>', 0],
          ['▁', -3],
          ['▁ab', -1],
          ['▁a', -2],
          ['b', -2],
          ['c', -2],
          ['▁c', -1.5],
        ],
      },
      added_tokens: [{ id: 1, content: '</s>' }],
    },
    'test',
  );
  assert.deepEqual(tok.encode('ab').ids, [4, 1]); // ▁ab (-1) beats ▁a + b (-4)
  assert.deepEqual(tok.encode('  ab   c ').ids, [4, 8, 1]); // whitespace collapsed
  assert.deepEqual(tok.encode('a€€b').ids, [5, 2, 6, 1]); // unknown run fuses into one <unk>
  assert.deepEqual(tok.encode('ab c ab c', 3).ids, [4, 8, 1]);
  assert.throws(() => new UnigramTokenizer({ model: { type: 'BPE' } }, 'x.json'), /only Unigram/);
});

test('relative position buckets (bidirectional, 32 buckets, max distance 128)', () => {
  // exact below 8, log-spaced above, the upper half for keys after the query
  assert.equal(relativeBucket(0, 32, 128), 0);
  assert.equal(relativeBucket(-3, 32, 128), 3);
  assert.equal(relativeBucket(3, 32, 128), 19);
  assert.equal(relativeBucket(-16, 32, 128), 10);
  assert.equal(relativeBucket(-1000, 32, 128), 15);
  assert.equal(relativeBucket(1000, 32, 128), 31);
});

function t5Ref(cfg: T5Config, ws: WeightSource, ids: number[], mask: number[]): Float64Array {
  const D = cfg.dModel;
  const H = cfg.numHeads;
  const dk = cfg.dKv;
  const T = ids.length;
  const g = (n: string) => Float64Array.from(ws.get(n));
  const rms = (x: Float64Array, w: Float64Array) => {
    const y = new Float64Array(x.length);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let c = 0; c < D; c++) s += x[t * D + c] ** 2;
      const r = 1 / Math.sqrt(s / D + cfg.eps);
      for (let c = 0; c < D; c++) y[t * D + c] = x[t * D + c] * r * w[c];
    }
    return y;
  };
  const lin = (x: Float64Array, W: Float64Array, out: number, inp: number) => {
    const y = new Float64Array(T * out);
    for (let t = 0; t < T; t++)
      for (let o = 0; o < out; o++) for (let k = 0; k < inp; k++) y[t * out + o] += x[t * inp + k] * W[o * inp + k];
    return y;
  };
  const emb = g('shared.weight');
  let x = new Float64Array(T * D);
  ids.forEach((id, t) => x.set(emb.subarray(id * D, (id + 1) * D), t * D));
  const rel = g('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `encoder.block.${l}.layer.`;
    const n = rms(x, g(`${p}0.layer_norm.weight`));
    const q = lin(n, g(`${p}0.SelfAttention.q.weight`), H * dk, D);
    const k = lin(n, g(`${p}0.SelfAttention.k.weight`), H * dk, D);
    const v = lin(n, g(`${p}0.SelfAttention.v.weight`), H * dk, D);
    const o = new Float64Array(T * H * dk);
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const s = new Float64Array(T);
        let mx = -Infinity;
        for (let j = 0; j < T; j++) {
          for (let c = 0; c < dk; c++) s[j] += q[i * H * dk + h * dk + c] * k[j * H * dk + h * dk + c];
          s[j] += rel[relativeBucket(j - i, cfg.relativeBuckets, cfg.relativeMaxDistance) * H + h] + (mask[j] ? 0 : -1e9);
          mx = Math.max(mx, s[j]);
        }
        let z = 0;
        for (let j = 0; j < T; j++) z += s[j] = Math.exp(s[j] - mx);
        for (let j = 0; j < T; j++) for (let c = 0; c < dk; c++) o[i * H * dk + h * dk + c] += (s[j] / z) * v[j * H * dk + h * dk + c];
      }
    const ao = lin(o, g(`${p}0.SelfAttention.o.weight`), D, H * dk);
    x = x.map((xv, i) => xv + ao[i]);
    const n1 = rms(x, g(`${p}1.layer_norm.weight`));
    const a = lin(n1, g(`${p}1.DenseReluDense.wi_0.weight`), cfg.dFf, D).map(
      (u) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3))),
    );
    const b = lin(n1, g(`${p}1.DenseReluDense.wi_1.weight`), cfg.dFf, D);
    const f = lin(
      a.map((u, i) => u * b[i]),
      g(`${p}1.DenseReluDense.wo.weight`),
      D,
      cfg.dFf,
    );
    x = x.map((xv, i) => xv + f[i]);
  }
  return rms(x, g('encoder.final_layer_norm.weight'));
}

test('the T5 encoder graph matches the float64 reference for two prompts of different lengths', async () => {
  const ws = makeTinyT5Weights(TINY_T5);
  const tok = new UnigramTokenizer(makeTinyTokenizerJson(TINY_T5.vocabSize), 'tiny');
  const te = await TextEncoder.fromWeights(TINY_T5, tok, ws, 'cpu');
  const prompts = ['a red apple on a wooden table', 'a cat'];
  const out = await te.encode(prompts);
  await te.release();
  let err = 0;
  prompts.forEach((p, b) => {
    const e = tok.encode(p);
    const ids = [...e.ids, ...new Array(out.maxLen - e.ids.length).fill(tok.padId)];
    const mask = ids.map((_, i) => (i < e.ids.length ? 1 : 0));
    const ref = t5Ref(TINY_T5, ws, ids, mask);
    assert.equal(out.lens[b], e.ids.length);
    for (let i = 0; i < e.ids.length * TINY_T5.dModel; i++)
      err = Math.max(err, Math.abs(ref[i] - out.features[b * out.maxLen * TINY_T5.dModel + i]));
  });
  console.log(`# T5 max abs error ${err.toExponential(2)}`);
  assert.ok(err < 1e-4);
});

test('a wrongly shaped encoder tensor is named with both shapes', async () => {
  const ws = makeTinyT5Weights(TINY_T5);
  const bad = new MapWeights(new Map(ws.names().map((n) => [n, { shape: ws.shape(n), data: ws.get(n) }])));
  bad.set('encoder.block.1.layer.0.SelfAttention.q.weight', [32, 64], new Float32Array(32 * 64));
  const tok = new UnigramTokenizer(makeTinyTokenizerJson(TINY_T5.vocabSize), 'tiny');
  await assert.rejects(
    TextEncoder.fromWeights(TINY_T5, tok, bad, 'cpu'),
    /encoder\.block\.1\.layer\.0\.SelfAttention\.q\.weight.*\[32, 64\].*\[64, 64\]/,
  );
});

test("flan-t5-xl's encoder is split into parts that each fit one graph, in layer order", () => {
  // 4.9 GB of float32 weights: as one graph it could not be serialised (typed arrays stop at 4 GiB,
  // onnxruntime's protobufs at 2 GiB), so a real Infinity model could not load its text encoder
  const xl = INFINITY_2B.t5;
  const parts = t5EncoderParts(xl);
  assert.ok(parts.length >= 3, `${parts.length} parts`);
  assert.deepEqual(
    parts.map(([a]) => a),
    [0, ...parts.slice(0, -1).map(([, b]) => b)],
    'consecutive',
  );
  assert.equal(parts.at(-1)![1], xl.numLayers);
  const layer = 4 * (4 * xl.dModel * xl.numHeads * xl.dKv + 3 * xl.dModel * xl.dFf + 2 * xl.dModel);
  parts.forEach(([a, b], k) => {
    const bytes = (b - a) * layer + (k === 0 ? 4 * xl.vocabSize * xl.dModel : 0);
    assert.ok(bytes <= T5_PART_BYTES, `part ${k}: ${bytes} bytes`);
  });
  // a budget below one layer still makes progress: one layer per part
  assert.deepEqual(t5EncoderParts(TINY_T5, 1), [
    [0, 1],
    [1, 2],
  ]);
  assert.deepEqual(t5EncoderParts(TINY_T5), [[0, 2]]);
});

test('the T5 encoder run in parts (first, middle, last) gives the features of the whole graph', async () => {
  const cfg = { ...TINY_T5, numLayers: 3 };
  const ws = makeTinyT5Weights(cfg);
  const tok = new UnigramTokenizer(makeTinyTokenizerJson(cfg.vocabSize), 'tiny');
  const prompts = ['a red apple on a wooden table', 'a cat'];
  assert.equal(t5EncoderParts(cfg, 1).length, 3);
  const whole = await TextEncoder.fromWeights(cfg, tok, ws, 'cpu');
  const split = await TextEncoder.fromWeights(cfg, tok, ws, 'cpu', 512, 1);
  try {
    const a = await whole.encode(prompts);
    const b = await split.encode(prompts);
    assert.deepEqual(b.lens, a.lens);
    let err = 0;
    for (let i = 0; i < a.features.length; i++) err = Math.max(err, Math.abs(a.features[i] - b.features[i]));
    assert.ok(err <= 1e-6, `max |split - whole| = ${err}`);
    assert.ok(a.features.some((v) => v !== 0));
  } finally {
    await whole.release();
    await split.release();
  }
});

test('the text encoder runs on the CPU beside a GPU transformer, unless asked to share its provider', () => {
  for (const ep of ['cpu', 'webgpu', 'cuda'] as const) assert.equal(textEncoderProvider(ep), 'cpu');
  withEnv('SCALEKV_TEXT_ENCODER_PROVIDER', () => {
    process.env.SCALEKV_TEXT_ENCODER_PROVIDER = 'same';
    assert.equal(textEncoderProvider('webgpu'), 'webgpu');
    assert.equal(textEncoderProvider('cuda'), 'cuda');
  });
});

test('a prompt encoded again comes from the kept features, as a copy its caller owns', async () => {
  const ws = makeTinyT5Weights(TINY_T5);
  const tok = new UnigramTokenizer(makeTinyTokenizerJson(TINY_T5.vocabSize), 'tiny');
  const te = await TextEncoder.fromWeights(TINY_T5, tok, ws, 'cpu');
  const runs: string[][] = [];
  const hooked = te as unknown as { run(p: string[]): Promise<unknown> };
  const run = hooked.run.bind(te);
  hooked.run = (p: string[]) => (runs.push(p), run(p));
  try {
    const first = await te.encode(['a cat']);
    const again = await te.encode(['a cat']);
    assert.deepEqual(runs, [['a cat']], 'encoded once');
    assert.deepEqual(again, first);
    first.features.fill(0);
    assert.ok(
      (await te.encode(['a cat'])).features.some((v) => v !== 0),
      'a caller cannot change what is kept',
    );
    await te.encode(['a dog']);
    assert.equal(runs.length, 2);
  } finally {
    await te.release();
  }
});
