/**
 * Reads an Infinity configuration off the checkpoint's tensor shapes, so that any official-format
 * checkpoint (2B, 8B, the layer-N scaling models, our tiny one) is understood without being told its
 * size, and so that a mismatch with a named preset is reported tensor by tensor.
 */
import { ScaleKVError } from '../shared/errors';
import { countBlocks, blockPrefixes } from './infinityNames';
import { type InfinityConfig, type T5Config, type VaeConfig, validateConfig } from './config';
import type { WeightSource } from './weights';

function need(ws: WeightSource, name: string): number[] {
  if (!ws.has(name))
    throw new ScaleKVError('E_SHAPE_MISMATCH', `Tensor '${name}' is missing from ${ws.origin}; is this an Infinity checkpoint?`);
  return ws.shape(name);
}

export function inferVaeConfig(ws: WeightSource): VaeConfig {
  const pick = (base: string) => (ws.has(`${base}.weight`) ? `${base}.weight` : `${base}.conv.weight`);
  const convIn = need(ws, pick('decoder.conv_in'));
  if (convIn.length !== 4) {
    throw new ScaleKVError(
      'E_SHAPE_MISMATCH',
      `decoder.conv_in in ${ws.origin} has shape [${convIn.join(', ')}]; only the 2-D image VAE is supported.`,
    );
  }
  const levels: number[] = [];
  for (let i = 0; ws.has(pick(`decoder.up.${i}.block.0.conv1`)); i++) levels.push(ws.shape(pick(`decoder.up.${i}.block.0.conv1`))[0]);
  if (!levels.length) throw new ScaleKVError('E_SHAPE_MISMATCH', `No decoder.up.* blocks found in ${ws.origin}.`);
  let nrb = 0;
  while (ws.has(pick(`decoder.up.0.block.${nrb}.conv1`))) nrb++;
  const base = levels[0];
  const out = need(ws, pick('decoder.conv_out'))[0];
  return {
    codebookDim: convIn[1],
    baseChannels: base,
    channelMult: levels.map((c) => c / base),
    numResBlocks: nrb - 1,
    patchSize: 2 ** (levels.length - 1),
    outChannels: out,
  };
}

export function inferInfinityConfig(ws: WeightSource, vae: VaeConfig, t5: T5Config, name = 'infinity'): InfinityConfig {
  const [C, d] = need(ws, 'word_embed.weight');
  const depth = countBlocks(ws.names());
  if (!depth) throw new ScaleKVError('E_SHAPE_MISMATCH', `No transformer blocks found in ${ws.origin}.`);
  const p0 = blockPrefixes(ws, depth)[0];
  const H = need(ws, `${p0}sa.scale_mul_1H11`)[1];
  const cfg: InfinityConfig = {
    name,
    depth,
    embedDim: C,
    numHeads: H,
    mlpHidden: need(ws, `${p0}ffn.fc1.weight`)[0],
    codebookDim: d,
    textChannels: need(ws, 'text_norm.weight')[0],
    textMaxLen: need(ws, 'cfg_uncond')[0],
    textPoolHeads: need(ws, 'text_proj_for_sos.ca.mat_q')[1],
    normEps: 1e-6,
    levels: need(ws, 'lvl_embed.weight')[0],
    ropeBase: 10000,
    ropeMaxEdge: 128,
    vae,
    t5,
  };
  validateConfig(cfg);
  return cfg;
}
