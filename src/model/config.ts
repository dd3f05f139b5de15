/**
 * Model configurations: Infinity-2B, Infinity-8B and the tiny Infinity-architecture model the project
 * generates for itself. The tiny one keeps every structural feature (13-scale schedules for every
 * aspect ratio, 2-D RoPE, shared AdaLN, cross-attention to T5 features, cosine self-attention with a
 * per-scale KV cache, bitwise head, CFG, BSQ-VAE decoder) at a size a 2-core CPU runs in seconds.
 */
import { ScaleKVError } from '../shared/errors';

export interface T5Config {
  vocabSize: number;
  dModel: number;
  dKv: number;
  numHeads: number;
  numLayers: number;
  dFf: number;
  relativeBuckets: number;
  relativeMaxDistance: number;
  eps: number;
  /** flan-t5 uses gated GELU (wi_0, wi_1); t5 v1.0 uses ReLU (wi) */
  gatedGelu: boolean;
}

export interface VaeConfig {
  /** BSQ codebook dimension = z channels (32 for infinity_vae_d32) */
  codebookDim: number;
  baseChannels: number;
  channelMult: number[];
  numResBlocks: number;
  /** spatial downsampling factor (16) */
  patchSize: number;
  outChannels: number;
}

export interface InfinityConfig {
  name: string;
  depth: number;
  embedDim: number;
  numHeads: number;
  /** FFN hidden width: round(C * mlp_ratio / 256) * 256 */
  mlpHidden: number;
  /** codebook dim of the VAE = bits per token (d_vae) */
  codebookDim: number;
  /** T5 width (Ct5) */
  textChannels: number;
  /** length of the learned unconditional text embedding (cfg_uncond) */
  textMaxLen: number;
  /** heads of the text attentive pool (Ct5 / 128 upstream) */
  textPoolHeads: number;
  normEps: number;
  /** number of level embeddings (lvl_embed rows) */
  levels: number;
  ropeBase: number;
  /** rope grid edge (2048 // 16 upstream) */
  ropeMaxEdge: number;
  vae: VaeConfig;
  t5: T5Config;
}

const T5_FLAN_XL: T5Config = {
  vocabSize: 32128,
  dModel: 2048,
  dKv: 64,
  numHeads: 32,
  numLayers: 24,
  dFf: 5120,
  relativeBuckets: 32,
  relativeMaxDistance: 128,
  eps: 1e-6,
  gatedGelu: true,
};

const VAE_D32: VaeConfig = {
  codebookDim: 32,
  baseChannels: 128,
  channelMult: [1, 2, 4, 4, 4],
  numResBlocks: 2,
  patchSize: 16,
  outChannels: 3,
};

const VAE_D56: VaeConfig = { ...VAE_D32, codebookDim: 56 };

function mlpHidden(C: number, ratio = 4): number {
  return Math.round((C * ratio) / 256) * 256;
}

export const INFINITY_2B: InfinityConfig = {
  name: 'infinity-2b',
  depth: 32,
  embedDim: 2048,
  numHeads: 16,
  mlpHidden: mlpHidden(2048),
  codebookDim: 32,
  textChannels: 2048,
  textMaxLen: 512,
  textPoolHeads: 16,
  normEps: 1e-6,
  levels: 15,
  ropeBase: 10000,
  ropeMaxEdge: 128,
  vae: VAE_D32,
  t5: T5_FLAN_XL,
};

export const INFINITY_8B: InfinityConfig = {
  ...INFINITY_2B,
  name: 'infinity-8b',
  depth: 40,
  embedDim: 3584,
  numHeads: 28,
  mlpHidden: mlpHidden(3584),
  codebookDim: 56,
  vae: VAE_D56,
};

export const TINY_T5: T5Config = {
  vocabSize: 384,
  dModel: 64,
  dKv: 16,
  numHeads: 4,
  numLayers: 2,
  dFf: 128,
  relativeBuckets: 32,
  relativeMaxDistance: 128,
  eps: 1e-6,
  gatedGelu: true,
};

export const TINY_VAE: VaeConfig = {
  codebookDim: 16,
  baseChannels: 32,
  channelMult: [1, 1, 2, 2, 2],
  numResBlocks: 1,
  patchSize: 16,
  outChannels: 3,
};

export const INFINITY_TINY: InfinityConfig = {
  name: 'infinity-tiny',
  depth: 8,
  embedDim: 64,
  numHeads: 4,
  mlpHidden: mlpHidden(64),
  codebookDim: 16,
  textChannels: 64,
  textMaxLen: 64,
  textPoolHeads: 2,
  normEps: 1e-6,
  levels: 15,
  ropeBase: 10000,
  ropeMaxEdge: 128,
  vae: TINY_VAE,
  t5: TINY_T5,
};

export function validateConfig(cfg: InfinityConfig): void {
  const bad = (m: string) => {
    throw new ScaleKVError('E_CONFIG', `Model config ${cfg.name}: ${m}`);
  };
  if (cfg.embedDim % cfg.numHeads) bad(`embedDim ${cfg.embedDim} is not divisible by numHeads ${cfg.numHeads}`);
  if ((cfg.embedDim / cfg.numHeads) % 4) bad(`head dim ${cfg.embedDim / cfg.numHeads} must be a multiple of 4 for 2-D RoPE`);
  if (cfg.embedDim % cfg.textPoolHeads) bad(`embedDim ${cfg.embedDim} is not divisible by textPoolHeads ${cfg.textPoolHeads}`);
  if (cfg.t5.dModel !== cfg.textChannels) bad(`text encoder width ${cfg.t5.dModel} != textChannels ${cfg.textChannels}`);
  if (cfg.vae.codebookDim !== cfg.codebookDim) bad(`VAE codebook dim ${cfg.vae.codebookDim} != ${cfg.codebookDim}`);
  for (const m of cfg.vae.channelMult) {
    const ch = m * cfg.vae.baseChannels;
    if (ch % 32 && ch % 24) bad(`VAE channels ${ch} are not divisible by 32 or 24 (GroupNorm groups)`);
  }
}
