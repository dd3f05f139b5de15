/**
 * The BSQ-VAE side of generation: resampling multi-scale codes between token-map sizes (the
 * 'trilinear' interpolation upstream applies with a time axis of 1, i.e. bilinear with
 * align_corners=False) and decoding the final codes to pixels.
 */
import * as ort from 'onnxruntime-node';
import { buildVaeDecoderGraph } from '../../kernels/graphs/vaeDecoder';
import type { ExecutionProvider } from '../shared/types';
import type { VaeConfig } from './config';
import { threadOptions } from './cpuThreads';
import type { WeightSource } from './weights';

/** Source coordinate of output index i as torch computes it (align_corners=False), clamped at 0. */
function srcIndex(i: number, inSize: number, outSize: number): [number, number, number] {
  const scale = inSize / outSize;
  const x = Math.max(0, (i + 0.5) * scale - 0.5);
  const i0 = Math.min(Math.floor(x), inSize - 1);
  const i1 = Math.min(i0 + 1, inSize - 1);
  const l = x - i0;
  return [i0, i1, l];
}

/** [C, h, w] -> [C, H, W] bilinear, align_corners=False, no antialiasing (torch's default). */
export function interpolateBilinear(src: Float32Array, C: number, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(C * H * W);
  const ys = Array.from({ length: H }, (_, i) => srcIndex(i, h, H));
  const xs = Array.from({ length: W }, (_, j) => srcIndex(j, w, W));
  for (let c = 0; c < C; c++) {
    const base = c * h * w;
    for (let i = 0; i < H; i++) {
      const [y0, y1, ly] = ys[i];
      for (let j = 0; j < W; j++) {
        const [x0, x1, lx] = xs[j];
        const a = src[base + y0 * w + x0];
        const b = src[base + y0 * w + x1];
        const cc = src[base + y1 * w + x0];
        const d = src[base + y1 * w + x1];
        out[(c * H + i) * W + j] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * cc + lx * d);
      }
    }
  }
  return out;
}

export class VaeDecoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly cfg: VaeConfig,
  ) {}

  static async load(ws: WeightSource, cfg: VaeConfig, ep: ExecutionProvider): Promise<VaeDecoder> {
    const options = { executionProviders: [ep], graphOptimizationLevel: 'all' as const, ...threadOptions(ep) };
    const session = await ort.InferenceSession.create(buildVaeDecoderGraph(cfg, ws), options);
    return new VaeDecoder(session, cfg);
  }

  /** z [B, d, h, w] -> image [B, 3, 16h, 16w] (decoder output, not yet clamped) */
  async decode(z: Float32Array, B: number, h: number, w: number): Promise<Float32Array> {
    // one image at a time keeps the activations of a 1024x1024 decode within a laptop's memory
    const per = this.cfg.codebookDim * h * w;
    const parts: Float32Array[] = [];
    for (let b = 0; b < B; b++) {
      const r = await this.session.run({ z: new ort.Tensor('float32', z.slice(b * per, (b + 1) * per), [1, this.cfg.codebookDim, h, w]) });
      parts.push(r.image.data as Float32Array);
    }
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
