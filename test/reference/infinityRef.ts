/**
 * Float64 reference of Infinity inference (teacher-forced bits), written from the PyTorch model's math
 * (FoundationVision/Infinity: text_norm, attentive pool, shared AdaLN, cosine self-attention with a KV
 * cache and 2-D RoPE, cross-attention, GELU MLP, AdaLN head, CFG on logits, BSQ codes resampled between
 * scales) with plain loops on Float64Array. It shares no code with the ONNX graphs it checks.
 */
import type { InfinityConfig } from '../../src/model/config';
import type { ScaleShape } from '../../src/shared/types';
import type { WeightSource } from '../../src/model/weights';

type V = Float64Array;
const f64 = (a: Float32Array | number[]) => Float64Array.from(a);

/** y[n, out] = x[n, in] W^T + b */
function linear(x: V, n: number, W: V, out: number, inp: number, b?: V | null): V {
  const y = new Float64Array(n * out);
  for (let i = 0; i < n; i++)
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let k = 0; k < inp; k++) s += x[i * inp + k] * W[o * inp + k];
      y[i * out + o] = s;
    }
  return y;
}

function layerNorm(x: V, n: number, C: number, eps: number, w?: V, b?: V): V {
  const y = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += x[i * C + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[i * C + c] - m) ** 2;
    v /= C;
    const r = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < C; c++) y[i * C + c] = (x[i * C + c] - m) * r * (w ? w[c] : 1) + (b ? b[c] : 0);
  }
  return y;
}

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const silu = (x: number) => x / (1 + Math.exp(-x));

/** softmax(q k^T * scale + bias) v over one head; q [Lq, d], k/v [Lk, d] */
function attend(q: V, Lq: number, k: V, v: V, Lk: number, d: number, scale: number, bias?: (j: number) => number): V {
  const out = new Float64Array(Lq * d);
  const s = new Float64Array(Lk);
  for (let i = 0; i < Lq; i++) {
    let mx = -Infinity;
    for (let j = 0; j < Lk; j++) {
      let t = 0;
      for (let c = 0; c < d; c++) t += q[i * d + c] * k[j * d + c];
      s[j] = t * scale + (bias ? bias(j) : 0);
      if (s[j] > mx) mx = s[j];
    }
    let z = 0;
    for (let j = 0; j < Lk; j++) z += s[j] = Math.exp(s[j] - mx);
    for (let j = 0; j < Lk; j++) for (let c = 0; c < d; c++) out[i * d + c] += (s[j] / z) * v[j * d + c];
  }
  return out;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface RefInput {
  /** [rows, T, Ct5] text features (conditional rows then unconditional), with mask [rows, T] */
  text: Float32Array;
  mask: Float32Array;
  rows: number;
  T: number;
  B: number;
  schedule: ScaleShape[];
  finalGrid: ScaleShape;
  cfg: number;
  tau: number;
  bits: Uint8Array[];
}

export function referenceLogits(
  cfg: InfinityConfig,
  ws: WeightSource,
  prefixes: string[],
  inp: RefInput,
): { logits: Float64Array[]; guided: Float64Array[] } {
  const g = (n: string) => f64(ws.get(n));
  const C = cfg.embedDim;
  const H = cfg.numHeads;
  const d = C / H;
  const Ct5 = cfg.textChannels;
  const { rows, T } = inp;
  const eps = cfg.normEps;
  const V = 2 * cfg.codebookDim;

  // ---- conditioning
  const tn = new Float64Array(rows * T * Ct5);
  const nw = g('text_norm.weight');
  for (let i = 0; i < rows * T; i++) {
    let ms = 0;
    for (let c = 0; c < Ct5; c++) ms += inp.text[i * Ct5 + c] ** 2;
    const r = 1 / Math.sqrt(ms / Ct5 + eps);
    for (let c = 0; c < Ct5; c++) tn[i * Ct5 + c] = inp.text[i * Ct5 + c] * r * nw[c];
  }
  const Hp = cfg.textPoolHeads;
  const dp = C / Hp;
  const kvb = new Float64Array(2 * C);
  kvb.set(g('text_proj_for_sos.ca.v_bias'), C);
  const poolQ = g('text_proj_for_sos.ca.mat_q');
  const cond = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const kv = linear(tn.subarray(r * T * Ct5, (r + 1) * T * Ct5), T, g('text_proj_for_sos.ca.mat_kv.weight'), 2 * C, Ct5, kvb);
    const pooled = new Float64Array(C);
    for (let h = 0; h < Hp; h++) {
      const k = new Float64Array(T * dp);
      const v = new Float64Array(T * dp);
      for (let t = 0; t < T; t++)
        for (let c = 0; c < dp; c++) {
          k[t * dp + c] = kv[t * 2 * C + h * dp + c];
          v[t * dp + c] = kv[t * 2 * C + C + h * dp + c];
        }
      const o = attend(poolQ.subarray(h * dp, (h + 1) * dp), 1, k, v, T, dp, 1 / Math.sqrt(dp), (j) =>
        inp.mask[r * T + j] > 0 ? 0 : -1e9,
      );
      pooled.set(o, h * dp);
    }
    cond.set(linear(pooled, 1, g('text_proj_for_sos.ca.proj.weight'), C, C, g('text_proj_for_sos.ca.proj.bias')), r * C);
  }
  const ca = linear(
    linear(tn, rows * T, g('text_proj_for_ca.0.weight'), C, Ct5, g('text_proj_for_ca.0.bias')).map(gelu),
    rows * T,
    g('text_proj_for_ca.2.weight'),
    C,
    C,
    g('text_proj_for_ca.2.bias'),
  );
  const sc = cond.map(silu);
  const gss = linear(sc, rows, g('shared_ada_lin.1.weight'), 6 * C, C, g('shared_ada_lin.1.bias')); // [rows, 6C]
  const headSS = linear(sc, rows, g('head_nm.ada_lin.1.weight'), 2 * C, C, g('head_nm.ada_lin.1.bias'));
  const lvl = g('lvl_embed.weight');
  const posStart = g('pos_start');

  // per layer caches [rows][H][len][d]
  const kc: V[][][] = prefixes.map(() => Array.from({ length: rows }, () => Array.from({ length: H }, () => new Float64Array(0))));
  const vc: V[][][] = prefixes.map(() => Array.from({ length: rows }, () => Array.from({ length: H }, () => new Float64Array(0))));
  const last = inp.schedule[inp.schedule.length - 1];
  const dv = cfg.codebookDim;
  const summed = new Float64Array(inp.B * dv * last.h * last.w);
  const logitsOut: Float64Array[] = [];
  const guidedOut: Float64Array[] = [];
  let x = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) x[r * C + c] = cond[r * C + c] + posStart[c];

  inp.schedule.forEach((shape, si) => {
    const L = shape.h * shape.w;
    // level embedding before the first block only
    for (let r = 0; r < rows; r++) for (let t = 0; t < L; t++) for (let c = 0; c < C; c++) x[(r * L + t) * C + c] += lvl[si * C + c];
    // RoPE angles for this scale
    const half = d / 2;
    const quarter = half / 2;
    const cosT = new Float64Array(L * half);
    const sinT = new Float64Array(L * half);
    for (let i = 0; i < shape.h; i++)
      for (let j = 0; j < shape.w; j++) {
        const yy = roundHalfEven(i * (inp.finalGrid.h / shape.h));
        const xx = roundHalfEven(j * (inp.finalGrid.w / shape.w));
        for (let f = 0; f < quarter; f++) {
          const inv = 1 / Math.pow(cfg.ropeBase, (2 * f) / half);
          const t = i * shape.w + j;
          cosT[t * half + f] = Math.cos(yy * inv);
          sinT[t * half + f] = Math.sin(yy * inv);
          cosT[t * half + quarter + f] = Math.cos(xx * inv);
          sinT[t * half + quarter + f] = Math.sin(xx * inv);
        }
      }
    prefixes.forEach((p, li) => {
      const ada = g(p + 'ada_gss');
      const qkvW = g(p + 'sa.mat_qkv.weight');
      const qb = g(p + 'sa.q_bias');
      const vb = g(p + 'sa.v_bias');
      const smul = g(p + 'sa.scale_mul_1H11');
      const y = new Float64Array(rows * L * C);
      for (let r = 0; r < rows; r++) {
        const par = (k: number, c: number) => ada[k * C + c] + gss[r * 6 * C + k * C + c];
        const xr = x.subarray(r * L * C, (r + 1) * L * C);
        const ln1 = layerNorm(xr, L, C, eps);
        for (let t = 0; t < L; t++) for (let c = 0; c < C; c++) ln1[t * C + c] = ln1[t * C + c] * (1 + par(2, c)) + par(4, c);
        const qkv = linear(ln1, L, qkvW, 3 * C, C, null);
        const saOut = new Float64Array(L * C);
        for (let h = 0; h < H; h++) {
          const q = new Float64Array(L * d);
          const k = new Float64Array(L * d);
          const v = new Float64Array(L * d);
          const s = Math.exp(Math.min(smul[h], Math.log(100)));
          for (let t = 0; t < L; t++) {
            let nq = 0;
            let nk = 0;
            for (let c = 0; c < d; c++) {
              q[t * d + c] = qkv[t * 3 * C + h * d + c] + qb[h * d + c];
              k[t * d + c] = qkv[t * 3 * C + C + h * d + c];
              v[t * d + c] = qkv[t * 3 * C + 2 * C + h * d + c] + vb[h * d + c];
              nq += q[t * d + c] ** 2;
              nk += k[t * d + c] ** 2;
            }
            nq = Math.max(Math.sqrt(nq), 1e-12);
            nk = Math.max(Math.sqrt(nk), 1e-12);
            for (let c = 0; c < d; c++) {
              q[t * d + c] = (q[t * d + c] / nq) * s;
              k[t * d + c] /= nk;
            }
            for (const z of [q, k]) {
              for (let f = 0; f < half; f++) {
                const a = z[t * d + 2 * f];
                const b = z[t * d + 2 * f + 1];
                z[t * d + 2 * f] = cosT[t * half + f] * a - sinT[t * half + f] * b;
                z[t * d + 2 * f + 1] = sinT[t * half + f] * a + cosT[t * half + f] * b;
              }
            }
          }
          const kAll = new Float64Array(kc[li][r][h].length + L * d);
          kAll.set(kc[li][r][h]);
          kAll.set(k, kc[li][r][h].length);
          const vAll = new Float64Array(vc[li][r][h].length + L * d);
          vAll.set(vc[li][r][h]);
          vAll.set(v, vc[li][r][h].length);
          kc[li][r][h] = kAll;
          vc[li][r][h] = vAll;
          const o = attend(q, L, kAll, vAll, kAll.length / d, d, 1);
          for (let t = 0; t < L; t++) for (let c = 0; c < d; c++) saOut[t * C + h * d + c] = o[t * d + c];
        }
        const proj = linear(saOut, L, g(p + 'sa.proj.weight'), C, C, g(p + 'sa.proj.bias'));
        const h1 = new Float64Array(L * C);
        for (let i = 0; i < L * C; i++) h1[i] = xr[i] + proj[i] * par(0, i % C);
        // cross-attention
        const hn = layerNorm(h1, L, C, eps, g(p + 'ca_norm.weight'), g(p + 'ca_norm.bias'));
        const cq = linear(hn, L, g(p + 'ca.mat_q.weight'), C, C, g(p + 'ca.mat_q.bias'));
        const cb = new Float64Array(2 * C);
        cb.set(g(p + 'ca.v_bias'), C);
        const ckv = linear(ca.subarray(r * T * C, (r + 1) * T * C), T, g(p + 'ca.mat_kv.weight'), 2 * C, C, cb);
        const caOut = new Float64Array(L * C);
        for (let h = 0; h < H; h++) {
          const q = new Float64Array(L * d);
          const k = new Float64Array(T * d);
          const v = new Float64Array(T * d);
          for (let t = 0; t < L; t++) for (let c = 0; c < d; c++) q[t * d + c] = cq[t * C + h * d + c];
          for (let t = 0; t < T; t++)
            for (let c = 0; c < d; c++) {
              k[t * d + c] = ckv[t * 2 * C + h * d + c];
              v[t * d + c] = ckv[t * 2 * C + C + h * d + c];
            }
          const o = attend(q, L, k, v, T, d, 1 / Math.sqrt(d), (j) => (inp.mask[r * T + j] > 0 ? 0 : -1e9));
          for (let t = 0; t < L; t++) for (let c = 0; c < d; c++) caOut[t * C + h * d + c] = o[t * d + c];
        }
        const cproj = linear(caOut, L, g(p + 'ca.proj.weight'), C, C, g(p + 'ca.proj.bias'));
        for (let i = 0; i < L * C; i++) h1[i] += cproj[i];
        const ln2 = layerNorm(h1, L, C, eps);
        for (let t = 0; t < L; t++) for (let c = 0; c < C; c++) ln2[t * C + c] = ln2[t * C + c] * (1 + par(3, c)) + par(5, c);
        const f = linear(
          linear(ln2, L, g(p + 'ffn.fc1.weight'), cfg.mlpHidden, C, g(p + 'ffn.fc1.bias')).map(gelu),
          L,
          g(p + 'ffn.fc2.weight'),
          C,
          cfg.mlpHidden,
          g(p + 'ffn.fc2.bias'),
        );
        for (let i = 0; i < L * C; i++) y[r * L * C + i] = h1[i] + f[i] * par(1, i % C);
      }
      x = y;
    });
    // head on every row, then guidance on the conditional rows
    const logits = new Float64Array(rows * L * V);
    for (let r = 0; r < rows; r++) {
      const ln = layerNorm(x.subarray(r * L * C, (r + 1) * L * C), L, C, eps);
      for (let t = 0; t < L; t++)
        for (let c = 0; c < C; c++) ln[t * C + c] = ln[t * C + c] * (1 + headSS[r * 2 * C + c]) + headSS[r * 2 * C + C + c];
      logits.set(linear(ln, L, g('head.weight'), V, C, g('head.bias')), r * L * V);
    }
    logitsOut.push(logits);
    const guided = new Float64Array(inp.B * L * V);
    for (let i = 0; i < inp.B * L * V; i++)
      guided[i] = rows > inp.B ? (inp.cfg * logits[i] + (1 - inp.cfg) * logits[inp.B * L * V + i]) / inp.tau : logits[i] / inp.tau;
    guidedOut.push(guided);
    // BSQ codes of the forced bits, summed at the final size, resampled for the next scale
    if (si < inp.schedule.length - 1) {
      const bits = inp.bits[si];
      const nxt = inp.schedule[si + 1];
      const Ln = nxt.h * nxt.w;
      const codes = new Float64Array(inp.B * dv * L);
      for (let b = 0; b < inp.B; b++)
        for (let t = 0; t < L; t++)
          for (let j = 0; j < dv; j++) codes[(b * dv + j) * L + t] = (bits[(b * L + t) * dv + j] ? 1 : -1) / Math.sqrt(dv);
      for (let b = 0; b < inp.B; b++) {
        const up = bilinear(codes.subarray(b * dv * L, (b + 1) * dv * L), dv, shape.h, shape.w, last.h, last.w);
        for (let i = 0; i < up.length; i++) summed[b * dv * last.h * last.w + i] += up[i];
      }
      const nextX = new Float64Array(rows * Ln * C);
      const we = g('word_embed.weight');
      const wb = g('word_embed.bias');
      for (let b = 0; b < inp.B; b++) {
        const down = bilinear(summed.subarray(b * dv * last.h * last.w, (b + 1) * dv * last.h * last.w), dv, last.h, last.w, nxt.h, nxt.w);
        const z = new Float64Array(Ln * dv);
        for (let t = 0; t < Ln; t++) for (let j = 0; j < dv; j++) z[t * dv + j] = down[j * Ln + t];
        const e = linear(z, Ln, we, C, dv, wb);
        for (let r = b; r < rows; r += inp.B) nextX.set(e, r * Ln * C);
      }
      x = nextX;
    }
  });
  return { logits: logitsOut, guided: guidedOut };
}

/** torch bilinear (align_corners=False) in float64 */
export function bilinear(src: V, Cn: number, h: number, w: number, H: number, W: number): V {
  const out = new Float64Array(Cn * H * W);
  const idx = (i: number, n: number, N: number) => {
    const x = Math.max(0, (i + 0.5) * (n / N) - 0.5);
    const a = Math.min(Math.floor(x), n - 1);
    return [a, Math.min(a + 1, n - 1), x - a] as const;
  };
  for (let c = 0; c < Cn; c++)
    for (let i = 0; i < H; i++) {
      const [y0, y1, ly] = idx(i, h, H);
      for (let j = 0; j < W; j++) {
        const [x0, x1, lx] = idx(j, w, W);
        const s = (yy: number, xx: number) => src[c * h * w + yy * w + xx];
        out[(c * H + i) * W + j] = (1 - ly) * ((1 - lx) * s(y0, x0) + lx * s(y0, x1)) + ly * ((1 - lx) * s(y1, x0) + lx * s(y1, x1));
      }
    }
  return out;
}
