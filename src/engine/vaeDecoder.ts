/** The BSQ-VAE decoder: final multi-scale codes -> pixels. */
import * as ort from 'onnxruntime-node';
import { buildVaeDecoderGraph } from '../../kernels/graphs/vaeDecoder';
import type { VaeConfig } from '../model/config';
import type { WeightSource } from '../model/weights';
import type { ExecutionProvider } from '../shared/types';
import { createSession } from './sessions';

export class VaeDecoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly cfg: VaeConfig,
  ) {}

  static async load(ws: WeightSource, cfg: VaeConfig, ep: ExecutionProvider): Promise<VaeDecoder> {
    const session = await createSession(buildVaeDecoderGraph(cfg, ws), ep, 'VAE decoder');
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
