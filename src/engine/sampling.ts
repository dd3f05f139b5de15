/**
 * Seeded sampling of Infinity's bitwise tokens: every token carries codebookDim independent bits,
 * each drawn from a 2-way softmax after classifier-free guidance, with upstream's top-k / top-p rules.
 */

/** xoshiro128** seeded through splitmix32: fast, deterministic on every platform. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  /** uniform in [0, 1) */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export interface SamplingOptions {
  cfg: number;
  tau: number;
  topK: number;
  topP: number;
}

/**
 * Mix guided logits and sample bits.
 * @param logits [rows, L, 2*d] with rows = 2B (conditional rows first) when cfg != 1, else B
 * @returns bits [B, L, d] as 0/1
 */
export function sampleBits(logits: Float32Array, B: number, L: number, d: number, opts: SamplingOptions, rng: Rng): Uint8Array {
  const guided = opts.cfg !== 1;
  const V = 2 * d;
  const out = new Uint8Array(B * L * d);
  const invTau = 1 / opts.tau;
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      const c = (b * L + l) * V;
      const u = ((b + B) * L + l) * V;
      for (let j = 0; j < d; j++) {
        let l0 = logits[c + 2 * j] * invTau;
        let l1 = logits[c + 2 * j + 1] * invTau;
        if (guided) {
          l0 = opts.cfg * l0 + (1 - opts.cfg) * logits[u + 2 * j] * invTau;
          l1 = opts.cfg * l1 + (1 - opts.cfg) * logits[u + 2 * j + 1] * invTau;
        }
        out[(b * L + l) * d + j] = sampleTwoWay(l0, l1, opts.topK, opts.topP, rng);
      }
    }
  }
  return out;
}

/** One bit: upstream keeps the top_k largest (k >= 2 keeps both), then drops the smaller one when its
 *  probability is within the 1 - top_p tail, then samples from the softmax of what is left. */
export function sampleTwoWay(l0: number, l1: number, topK: number, topP: number, rng: Rng): 0 | 1 {
  let keep0 = true;
  let keep1 = true;
  if (topK === 1) {
    if (l0 >= l1) keep1 = false;
    else keep0 = false;
  }
  const m = Math.max(l0, l1);
  let p0 = Math.exp(l0 - m);
  let p1 = Math.exp(l1 - m);
  const z = p0 + p1;
  p0 /= z;
  p1 /= z;
  if (topP > 0 && keep0 && keep1) {
    // ascending sort; the smallest is removed when its cumulative mass is <= 1 - top_p, the largest never
    if (p0 <= p1) {
      if (p0 <= 1 - topP) keep0 = false;
    } else if (p1 <= 1 - topP) keep1 = false;
  }
  if (!keep0) return 1;
  if (!keep1) return 0;
  return rng.next() < p0 ? 0 : 1;
}
