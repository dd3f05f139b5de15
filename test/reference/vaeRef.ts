/** Float64 reference of the BSQ-VAE decoder (conv, GroupNorm, swish, nearest x2), written from the PyTorch modules' math. */
import type { VaeConfig } from '../../src/model/config';
import type { WeightSource } from '../../src/model/weights';

type T = { c: number; h: number; w: number; d: Float64Array };

function conv(x: T, W: Float32Array, b: Float32Array, cout: number, k: number): T {
  const p = (k - 1) / 2;
  const out = new Float64Array(cout * x.h * x.w);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < x.h; i++)
      for (let j = 0; j < x.w; j++) {
        let s = b[o];
        for (let c = 0; c < x.c; c++)
          for (let u = 0; u < k; u++)
            for (let v = 0; v < k; v++) {
              const y = i + u - p;
              const z = j + v - p;
              if (y >= 0 && y < x.h && z >= 0 && z < x.w) s += W[((o * x.c + c) * k + u) * k + v] * x.d[(c * x.h + y) * x.w + z];
            }
        out[(o * x.h + i) * x.w + j] = s;
      }
  return { c: cout, h: x.h, w: x.w, d: out };
}

function groupNorm(x: T, w: Float32Array, b: Float32Array): T {
  const G = x.c % 32 === 0 ? 32 : 24;
  const per = (x.c / G) * x.h * x.w;
  const out = new Float64Array(x.d.length);
  for (let g = 0; g < G; g++) {
    let m = 0;
    for (let i = 0; i < per; i++) m += x.d[g * per + i];
    m /= per;
    let v = 0;
    for (let i = 0; i < per; i++) v += (x.d[g * per + i] - m) ** 2;
    v /= per;
    for (let i = 0; i < per; i++) {
      const c = Math.floor((g * per + i) / (x.h * x.w));
      out[g * per + i] = ((x.d[g * per + i] - m) / Math.sqrt(v + 1e-6)) * w[c] + b[c];
    }
  }
  return { ...x, d: out };
}

const swish = (x: T): T => ({ ...x, d: x.d.map((v) => v / (1 + Math.exp(-v))) });

function up2(x: T): T {
  const out = new Float64Array(x.c * x.h * 2 * x.w * 2);
  for (let c = 0; c < x.c; c++)
    for (let i = 0; i < x.h * 2; i++)
      for (let j = 0; j < x.w * 2; j++) out[(c * x.h * 2 + i) * x.w * 2 + j] = x.d[(c * x.h + (i >> 1)) * x.w + (j >> 1)];
  return { c: x.c, h: x.h * 2, w: x.w * 2, d: out };
}

export function referenceDecode(cfg: VaeConfig, ws: WeightSource, z: Float32Array, h: number, w: number): Float64Array {
  const g = (n: string) => ws.get(`decoder.${n}`);
  const cv = (x: T, n: string, cout: number, k: number) => conv(x, g(`${n}.weight`), g(`${n}.bias`), cout, k);
  const gn = (x: T, n: string) => groupNorm(x, g(`${n}.weight`), g(`${n}.bias`));
  const res = (x: T, n: string, cout: number): T => {
    let y = cv(swish(gn(x, `${n}.norm1`)), `${n}.conv1`, cout, 3);
    y = cv(swish(gn(y, `${n}.norm2`)), `${n}.conv2`, cout, 3);
    const s = x.c !== cout ? cv(x, `${n}.nin_shortcut`, cout, 1) : x;
    return { ...y, d: y.d.map((v, i) => v + s.d[i]) };
  };
  const L = cfg.channelMult.length;
  let ch = cfg.baseChannels * cfg.channelMult[L - 1];
  let x: T = cv({ c: cfg.codebookDim, h, w, d: Float64Array.from(z) }, 'conv_in', ch, 3);
  x = res(x, 'mid.block_1', ch);
  x = res(x, 'mid.block_2', ch);
  for (let lvl = L - 1; lvl >= 0; lvl--) {
    const out = cfg.baseChannels * cfg.channelMult[lvl];
    for (let b = 0; b <= cfg.numResBlocks; b++) {
      x = res(x, `up.${lvl}.block.${b}`, out);
      ch = out;
    }
    if (lvl >= 1) x = cv(up2(x), `up.${lvl}.upsample.conv`, ch, 3);
  }
  return cv(swish(gn(x, 'norm_out')), 'conv_out', cfg.outChannels, 3).d;
}
