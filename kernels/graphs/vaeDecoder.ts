/**
 * The BSQ-VAE decoder (Infinity's infinity_vae_d32 / d56 image decoder) as an ONNX graph: conv_in,
 * mid ResNet blocks (and attention when the checkpoint has it), up levels of ResNet blocks with
 * nearest-x2 + conv upsampling, GroupNorm + swish + conv_out. Official files store Conv/GroupNorm
 * either plainly (decoder.conv_in.weight) or inside wrapper modules (decoder.conv_in.conv.weight,
 * norm1.norm.weight); both load.
 */
import { Graph } from '../onnx/graph';
import type { VaeConfig } from '../../src/model/config';
import { ScaleKVError } from '../../src/shared/errors';
import { expectTensor, type WeightSource } from '../../src/model/weights';

export function vaeName(ws: WeightSource, base: string, kind: 'conv' | 'norm', param: 'weight' | 'bias'): string {
  const plain = `${base}.${param}`;
  if (ws.has(plain)) return plain;
  const wrapped = `${base}.${kind}.${param}`;
  if (ws.has(wrapped)) return wrapped;
  return plain; // expectTensor will report it missing under its plain name
}

export function groupsFor(ch: number): number {
  if (ch % 32 === 0) return 32;
  if (ch % 24 === 0) return 24;
  throw new ScaleKVError('E_SHAPE_MISMATCH', `VAE GroupNorm: ${ch} channels are not divisible by 32 or 24.`);
}

export function buildVaeDecoderGraph(cfg: VaeConfig, ws: WeightSource, prefix = 'decoder.'): Uint8Array {
  const g = new Graph('bsq_vae_decoder');
  const z = g.input('z', 'float32', ['B', cfg.codebookDim, 'h', 'w']);

  const conv = (x: string, base: string, cin: number, cout: number, k: number): string => {
    const wn = vaeName(ws, prefix + base, 'conv', 'weight');
    if (ws.has(wn) && ws.shape(wn).length === 5) {
      throw new ScaleKVError(
        'E_SHAPE_MISMATCH',
        `${wn} in ${ws.origin} is a 3-D (video) convolution; only the 2-D image VAE is supported.`,
      );
    }
    const w = g.weight(wn, expectTensor(ws, wn, [cout, cin, k, k]), [cout, cin, k, k]);
    const bn = vaeName(ws, prefix + base, 'conv', 'bias');
    const b = g.weight(bn, expectTensor(ws, bn, [cout]), [cout]);
    const p = (k - 1) / 2;
    return g.op('Conv', [x, w, b], { kernel_shape: [k, k], pads: [p, p, p, p], strides: [1, 1] });
  };
  const norm = (x: string, base: string, ch: number): string => {
    const G = groupsFor(ch);
    // GroupNorm = InstanceNorm over [B, G, C/G*H*W], then the per-channel affine
    const shape = g.op('Shape', [x]);
    const grouped = g.reshape(x, [0, G, -1]);
    const inorm = g.op('InstanceNormalization', [grouped, g.constF(new Float32Array(G).fill(1)), g.constF(new Float32Array(G))], {
      epsilon: { f: 1e-6 },
    });
    const back = g.op('Reshape', [inorm, shape]);
    const wn = vaeName(ws, prefix + base, 'norm', 'weight');
    const bn = vaeName(ws, prefix + base, 'norm', 'bias');
    const gamma = g.weight(wn, expectTensor(ws, wn, [ch]), [1, ch, 1, 1]);
    const beta = g.weight(bn, expectTensor(ws, bn, [ch]), [1, ch, 1, 1]);
    return g.add(g.mul(back, gamma), beta);
  };
  const swish = (x: string) => g.silu(x);
  const resnet = (x: string, base: string, cin: number, cout: number): string => {
    let h = conv(swish(norm(x, `${base}.norm1`, cin)), `${base}.conv1`, cin, cout, 3);
    h = conv(swish(norm(h, `${base}.norm2`, cout)), `${base}.conv2`, cout, cout, 3);
    const skip = cin !== cout ? conv(x, `${base}.nin_shortcut`, cin, cout, 1) : x;
    return g.add(skip, h);
  };
  const attn = (x: string, base: string, ch: number): string => {
    const h = norm(x, `${base}.norm`, ch);
    const shape = g.op('Shape', [h]);
    const flat = (t: string) => g.transpose(g.reshape(t, [0, ch, -1]), [0, 2, 1]); // [B, HW, C]
    const q = flat(conv(h, `${base}.q`, ch, ch, 1));
    const k = flat(conv(h, `${base}.k`, ch, ch, 1));
    const v = flat(conv(h, `${base}.v`, ch, ch, 1));
    const a = g.softmax(g.mul(g.matmul(q, g.transpose(k, [0, 2, 1])), g.scalarF(1 / Math.sqrt(ch))), -1);
    const o = g.op('Reshape', [g.transpose(g.matmul(a, v), [0, 2, 1]), shape]);
    return g.add(x, conv(o, `${base}.proj_out`, ch, ch, 1));
  };

  const mult = cfg.channelMult;
  const levels = mult.length;
  let ch = cfg.baseChannels * mult[levels - 1];
  let h = conv(z, 'conv_in', cfg.codebookDim, ch, 3);
  h = resnet(h, 'mid.block_1', ch, ch);
  if (ws.has(vaeName(ws, prefix + 'mid.attn_1.q', 'conv', 'weight'))) h = attn(h, 'mid.attn_1', ch);
  h = resnet(h, 'mid.block_2', ch, ch);
  const maxUp = Math.log2(cfg.patchSize);
  for (let lvl = levels - 1; lvl >= 0; lvl--) {
    const out = cfg.baseChannels * mult[lvl];
    for (let b = 0; b <= cfg.numResBlocks; b++) {
      h = resnet(h, `up.${lvl}.block.${b}`, ch, out);
      ch = out;
    }
    if (lvl >= 1 && lvl <= maxUp) {
      h = g.op('Resize', [h, '', g.constF([1, 1, 2, 2])], {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      });
      h = conv(h, `up.${lvl}.upsample.conv`, ch, ch, 3);
    }
  }
  h = conv(swish(norm(h, 'norm_out', ch)), 'conv_out', ch, cfg.outChannels, 3);
  g.outputAs(h, 'image', 'float32', ['B', cfg.outChannels, 'H', 'W']);
  return g.toBytes();
}
