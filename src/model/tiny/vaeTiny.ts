/**
 * Deterministic weights for the tiny BSQ-VAE decoder under the official names (plain layout; the
 * .pth nests them under "vae" like infinity_vae_d32reg.pth). Convolutions are He-scaled so features
 * keep their variance through the ResNet blocks, and conv_out is small so the image is not saturated.
 */
import type { VaeConfig } from '../config';
import { gaussian, MapWeights } from '../weights';

export function makeTinyVaeWeights(cfg: VaeConfig, seed = 4321): MapWeights {
  const w = new MapWeights(new Map(), 'tiny-vae');
  let s = seed;
  const conv = (base: string, cin: number, cout: number, k: number, gain = 1) => {
    w.set(`decoder.${base}.weight`, [cout, cin, k, k], gaussian(cout * cin * k * k, gain * Math.sqrt(2 / (cin * k * k)), s++));
    w.set(`decoder.${base}.bias`, [cout], gaussian(cout, 0.05, s++));
  };
  const norm = (base: string, ch: number) => {
    w.set(
      `decoder.${base}.weight`,
      [ch],
      Float32Array.from(gaussian(ch, 0.1, s++), (v) => 1 + v),
    );
    w.set(`decoder.${base}.bias`, [ch], gaussian(ch, 0.1, s++));
  };
  const resnet = (base: string, cin: number, cout: number) => {
    norm(`${base}.norm1`, cin);
    conv(`${base}.conv1`, cin, cout, 3);
    norm(`${base}.norm2`, cout);
    conv(`${base}.conv2`, cout, cout, 3, 0.5);
    if (cin !== cout) conv(`${base}.nin_shortcut`, cin, cout, 1);
  };
  const L = cfg.channelMult.length;
  let ch = cfg.baseChannels * cfg.channelMult[L - 1];
  conv('conv_in', cfg.codebookDim, ch, 3, 4);
  resnet('mid.block_1', ch, ch);
  resnet('mid.block_2', ch, ch);
  for (let lvl = L - 1; lvl >= 0; lvl--) {
    const out = cfg.baseChannels * cfg.channelMult[lvl];
    for (let b = 0; b <= cfg.numResBlocks; b++) {
      resnet(`up.${lvl}.block.${b}`, ch, out);
      ch = out;
    }
    if (lvl >= 1) conv(`up.${lvl}.upsample.conv`, ch, ch, 3);
  }
  norm('norm_out', ch);
  conv('conv_out', ch, cfg.outChannels, 3, 0.3);
  return w;
}
