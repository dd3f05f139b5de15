/**
 * A GenerationModel with Infinity's real transformer graphs on deterministic random weights of any
 * configuration (e.g. Infinity-2B's widths with a few blocks), for benchmarks and GPU stress runs where
 * the official weights are not available. Text features are random; decode returns the codes.
 */
import type { InfinityConfig } from '../model/config';
import { makeTinyInfinityWeights } from '../model/tiny/infinityTiny';
import { gaussian, uniformNoise } from '../model/weights';
import type { ExecutionProvider } from '../shared/types';
import type { GenerationModel } from './generate';
import { fusedWeightCache } from './fusedRunner';
import { InfinitySessions } from './infinitySessions';

export async function syntheticModel(
  cfg: InfinityConfig,
  ep: ExecutionProvider,
  textLen = 24,
): Promise<GenerationModel & { release(): Promise<void> }> {
  const ws = makeTinyInfinityWeights(cfg, 99, cfg.depth % 2 === 0 ? 2 : 1, cfg.embedDim >= 1024 ? uniformNoise : gaussian);
  const sessions = await InfinitySessions.create(cfg, ws, ep);
  const cfgUncond = ws.get('cfg_uncond');
  const fused = fusedWeightCache(cfg, ws, ep);
  return {
    cfg,
    sessions,
    cfgUncond,
    async encodeText(prompts) {
      const n = prompts.length * textLen * cfg.textChannels;
      return { features: gaussian(n, 0.3, 7), lens: prompts.map(() => textLen), maxLen: textLen };
    },
    async decode(z, B, h, w) {
      // benchmarks time the transformer; the image is a nearest-neighbour view of the first 3 code channels
      const d = cfg.codebookDim;
      const out = new Float32Array(B * 3 * h * 16 * w * 16);
      for (let b = 0; b < B; b++)
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < h * 16; y++)
            for (let x = 0; x < w * 16; x++)
              out[((b * 3 + c) * h * 16 + y) * w * 16 + x] = Math.tanh(4 * z[((b * d + c) * h + (y >> 4)) * w + (x >> 4)]);
      return out;
    },
    fused: (precision, signal) => fused.get(precision, signal),
    releaseFused: () => fused.release(),
    async release() {
      await fused.release();
      await sessions.release();
    },
  };
}
