// ASI as the paper's Eq. 2 and Eq. 3: the block graph's asi_stats (run through onnxruntime on the CPU),
// the accumulator and the global ranking, against a float64 transliteration of the equations on
// hand-made attention maps, with ties inside the top-K' and a scale where every layer scores the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildAsiStatsProbe } from '../../../kernels/graphs/infinity';
import { AsiAccumulator, ASI_Z_EPS, rankDrafters, zScores } from '../../../src/scalekv/asi';
import { rng } from './helpers';

const H = 2;
const DEPTH = 4;
const K = 2;
// scale si has L queries and P history keys (scale 0 has none)
const SCALES = [
  { L: 1, P: 0 },
  { L: 4, P: 1 },
  { L: 9, P: 5 },
  { L: 16, P: 14 },
];
const EQUAL_SCALE = 2;

type Map = number[][]; // [L][P + L], rows sum to 1

/** hand-made maps: layer 0 spreads over the history, layer 1 stays on the current map, layer 2 has a few heavy history keys (with ties), layer 3 mixed */
function makeMap(si: number, layer: number, head: number): Map {
  const { L, P } = SCALES[si];
  const r = rng(1000 * si + 10 * layer + head + 1);
  const kind = si === EQUAL_SCALE ? 'tied' : (['spread', 'current', 'tied', 'random'] as const)[layer];
  return Array.from({ length: L }, () => {
    const w = Array.from({ length: P + L }, (_, j) => {
      const hist = j < P;
      if (kind === 'spread') return hist ? 1 : 0.5;
      if (kind === 'current') return hist ? 0.02 : 1;
      // two history keys share the top weight exactly: a tie at the K' = 2 boundary
      if (kind === 'tied') return hist ? (j < 3 ? 4 : 1) : 2;
      return 0.1 + r();
    });
    const s = w.reduce((a, b) => a + b, 0);
    return w.map((v) => v / s);
  });
}

/** float64 transliteration of Eq. 2: E_i[sum over C] x E_i[top-K' sum over P], heads averaged per factor */
function eq2Reference(maps: (si: number, l: number, h: number) => Map): number[][] {
  return SCALES.map(({ L, P }, si) =>
    Array.from({ length: DEPTH }, (_, l) => {
      let cur = 0;
      let hist = 0;
      for (let h = 0; h < H; h++) {
        for (const row of maps(si, l, h)) {
          cur += row.slice(P).reduce((a, b) => a + b, 0) / L;
          hist +=
            [...row.slice(0, P)]
              .sort((a, b) => b - a)
              .slice(0, K)
              .reduce((a, b) => a + b, 0) / L;
        }
      }
      return (cur / H) * (hist / H);
    }),
  );
}

/** float64 Eq. 3: z per scale (population std + eps), all eligible pairs ranked, ties to earlier scale then lower layer */
function eq3Reference(asi: number[][], eligible: number[], nd: number): string[][] {
  const pairs: [number, number, number][] = [];
  for (const si of eligible) {
    const v = asi[si];
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    v.forEach((x, l) => pairs.push([(x - mean) / (std + ASI_Z_EPS), si, l]));
  }
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const roles = asi.map((v) => v.map(() => 'refiner'));
  for (const [, si, l] of pairs.slice(0, nd)) roles[si][l] = 'drafter';
  return roles;
}

test('Eq. 2 through the graph and the accumulator equals the float64 transliteration; Eq. 3 picks the same drafters', async () => {
  const session = await ort.InferenceSession.create(buildAsiStatsProbe(H), { executionProviders: ['cpu'] });
  const acc = new AsiAccumulator(DEPTH, H, SCALES.length);
  for (let si = 0; si < SCALES.length; si++) {
    const { L, P } = SCALES[si];
    for (let l = 0; l < DEPTH; l++) {
      const probs = new Float32Array(H * L * (P + L));
      const colsum = new Float32Array(H * (P + L));
      for (let h = 0; h < H; h++) {
        makeMap(si, l, h).forEach((row, i) =>
          row.forEach((v, j) => {
            probs[(h * L + i) * (P + L) + j] = v;
            colsum[h * (P + L) + j] += v;
          }),
        );
      }
      let stats: Float32Array | null = null;
      if (P > 0) {
        const r = await session.run({
          probs: new ort.Tensor('float32', probs, [1, H, L, P + L]),
          past_k: new ort.Tensor('float32', new Float32Array(H * P), [1, H, P, 1]),
          asi_k: new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.min(K, P))), [1]),
        });
        stats = r.asi_stats.data as Float32Array;
      }
      acc.add(si, l, colsum, 1, P + L, L, stats);
    }
  }
  await session.release();
  const ref = eq2Reference(makeMap);
  const got = acc.index('eq2').perLayer;
  for (let si = 0; si < SCALES.length; si++) {
    for (let l = 0; l < DEPTH; l++)
      assert.ok(Math.abs(got[si][l] - ref[si][l]) < 1e-6, `scale ${si} layer ${l}: ${got[si][l]} vs ${ref[si][l]}`);
  }
  // no history: everything on the current map, nothing to sum on the history, ASI 0
  assert.deepEqual(got[0], [0, 0, 0, 0]);
  // all layers equal: std 0, so eps keeps every z at exactly 0
  assert.deepEqual(zScores(got[EQUAL_SCALE]), [0, 0, 0, 0]);
  const eligible = [1, 2, 3];
  for (const nd of [1, 2, 3, 5, 7]) assert.deepEqual(rankDrafters(got, eligible, nd), eq3Reference(ref, eligible, nd), `N_d = ${nd}`);
  // the layer whose attention stays on the current map scores low: a layer with dispersed history attention too
  const roles = rankDrafters(got, eligible, 2);
  assert.deepEqual(
    roles[EQUAL_SCALE],
    ['refiner', 'refiner', 'refiner', 'refiner'],
    'the tied scale only drafts when its z = 0 is reached',
  );
});

test('each factor alone and the sum index rank from the same measurements; ties in z go to the earlier scale, then the lower layer', () => {
  const asi = [
    [NaN, NaN],
    [0.2, 0.4],
    [0.7, 0.7],
    [0.1, 0.3],
  ];
  // scale 1 and 3 both give z = (-1, 1); scale 2 gives (0, 0)
  assert.deepEqual(rankDrafters(asi, [1, 2, 3], 1), [
    ['refiner', 'refiner'],
    ['drafter', 'refiner'],
    ['refiner', 'refiner'],
    ['refiner', 'refiner'],
  ]);
  assert.deepEqual(rankDrafters(asi, [1, 2, 3], 3)[2], ['drafter', 'refiner']);
  assert.deepEqual(rankDrafters(asi, [3], 1)[3], ['drafter', 'refiner'], 'only eligible scales draft');
  const acc = new AsiAccumulator(1, 1, 2);
  acc.addFactors(1, 0, [0.6, 0.3], 1);
  acc.add(1, 0, [1, 1, 2], 1, 3, 1);
  assert.ok(Math.abs(acc.index('current').perLayer[1][0] - 0.6) < 1e-12);
  assert.ok(Math.abs(acc.index('history').perLayer[1][0] - 0.3) < 1e-12);
  assert.ok(Math.abs(acc.index('eq2').perLayer[1][0] - 0.18) < 1e-12);
  // sum index: current share 2/4 plus the top 10% (one) history key's 1/4
  assert.ok(Math.abs(acc.index('sum').perLayer[1][0] - 0.75) < 1e-12);
});
