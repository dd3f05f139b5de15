/**
 * Loads a model for generation: finds its files, chooses the execution provider, reads the
 * configuration off the tensor shapes, and builds every graph's session (one transformer block's
 * weights in memory at a time while building).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CheckpointWeights, openCheckpoint } from '../checkpoint';
import { locateModel } from '../checkpoint/modelFolder';
import { inferInfinityConfig, inferVaeConfig } from '../model/inferConfig';
import { readT5Config } from '../model/t5Config';
import { TextEncoder, textEncoderProvider } from './textEncoder';
import { unknownWords } from '../model/tokenizer/unknownWords';
import { VaeDecoder } from './vaeDecoder';
import { PrefixedWeights } from '../model/weights';
import type { InfinityConfig } from '../model/config';
import { cancelled } from '../shared/errors';
import type { ModelSummary, ProviderInfo, ProviderSetting } from '../shared/types';
import type { JobContext } from './api';
import type { GenerationModel } from './generate';
import { fusedWeightCache } from './fusedRunner';
import { InfinitySessions } from './infinitySessions';
import { PartialBuild } from './partialBuild';
import { chooseProvider, type ProviderSkip } from './runtime';

export interface LoadedModel {
  cfg: InfinityConfig;
  summary: ModelSummary;
  provider: ProviderInfo;
  generation: GenerationModel;
  /** ScaleKV profiles shipped with the model (the default model ships 0.25M ones) */
  defaultProfiles: string[];
  /** sha256 of the transformer file as its manifest records it (undefined when it records none) */
  weightsSha256?: string;
  /** the words of a prompt outside the model's vocabulary (src/model/tokenizer/unknownWords.ts) */
  unknownWords(prompt: string): string[];
  release(): Promise<void>;
}

/** The embedded default model: trained on procedural shapes (tools/train), committed with its ScaleKV profiles. */
export const DEFAULT_MODEL_NAME = 'infinity-shapes';
/** The random tiny model `make-tiny` writes at build time, for tests that need bit-exact determinism. */
export const TINY_MODEL_NAME = 'tiny-infinity';

/** media/models/NAME beside the extension's package.json (or the repository's, when run from out/ or dist/). */
export function shippedModelDir(name: string): string {
  let d = __dirname;
  for (let i = 0; i < 6; i++) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: unknown }).name === 'scalekv-vscode') return join(d, 'media', 'models', name);
      } catch {
        /* keep looking */
      }
    }
    d = resolve(d, '..');
  }
  return resolve(__dirname, '..', 'media', 'models', name);
}

/** the model a request without a model path runs */
export function embeddedModelDir(): string {
  return shippedModelDir(DEFAULT_MODEL_NAME);
}

export function tinyModelDir(): string {
  return shippedModelDir(TINY_MODEL_NAME);
}

/**
 * Reading checkpoints is synchronous and bounded per file; between files the engine yields to its
 * event loop so that a cancel message (or the host's time limit) is seen, then stops if it was sent.
 */
async function checkpoint(signal: AbortSignal): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
  if (signal.aborted) throw cancelled();
}

/** @param skip providers that already failed this model's graphs (modelCache.ts): the choice passes over them */
export async function loadModel(
  modelPath: string | undefined,
  provider: ProviderSetting,
  ctx: JobContext,
  skip: ProviderSkip[] = [],
): Promise<LoadedModel> {
  const path = modelPath ?? embeddedModelDir();
  ctx.onProgress({ stage: 'load', message: `Finding model files in ${path}`, fraction: 0 });
  await checkpoint(ctx.signal);
  const parts = locateModel(path);
  for (const n of parts.notes) ctx.log?.('warn', `model folder: ${n}`);
  await checkpoint(ctx.signal);
  const info = await chooseProvider(provider, skip);
  ctx.log?.('info', `execution provider: ${info.used} (${info.reason})`);
  await checkpoint(ctx.signal);
  const transformer = openCheckpoint(parts.transformer);
  let vaeReader: ReturnType<typeof openCheckpoint>;
  try {
    vaeReader = openCheckpoint(parts.vae);
  } catch (e) {
    transformer.close();
    throw e;
  }
  try {
    await checkpoint(ctx.signal);
    const tws = new CheckpointWeights(transformer);
    const vws = new PrefixedWeights(new CheckpointWeights(vaeReader), parts.vaePrefix);
    const t5cfg = readT5Config(join(parts.textEncoderDir, 'config.json'));
    const cfg = inferInfinityConfig(tws, inferVaeConfig(vws), t5cfg, parts.name);
    const built = new PartialBuild();
    ctx.onProgress({ stage: 'load', message: 'Loading the text encoder', fraction: 0.02 });
    const textEp = textEncoderProvider(info.used);
    if (textEp !== info.used)
      ctx.log?.('info', `text encoder: ${textEp} (it runs once per prompt; the GPU keeps its memory for the transformer)`);
    const text = await built.add(() => TextEncoder.load(parts.textEncoderDir, textEp));
    ctx.onProgress({ stage: 'load', message: 'Building the VAE decoder', fraction: 0.04 });
    const vae = await built.add(() => VaeDecoder.load(vws, cfg.vae, info.used));
    ctx.onProgress({ stage: 'load', message: 'Building the transformer', fraction: 0.06 });
    const sessions = await built.add(() => InfinitySessions.create(cfg, tws, info.used));
    if (ctx.signal.aborted) {
      await built.releaseAll();
      throw cancelled();
    }
    const cfgUncond = tws.get('cfg_uncond');
    const fused = fusedWeightCache(cfg, tws, info.used);
    const parameters = transformer.keys().reduce((a, k) => a + transformer.info(k).shape.reduce((x, y) => x * y, 1), 0);
    const summary: ModelSummary = {
      name: cfg.name,
      depth: cfg.depth,
      embedDim: cfg.embedDim,
      numHeads: cfg.numHeads,
      headDim: cfg.embedDim / cfg.numHeads,
      codebookDim: cfg.codebookDim,
      textChannels: cfg.textChannels,
      source: modelPath ? path : 'embedded',
      formats: [transformer.format, vaeReader.format],
      parameters,
    };
    return {
      cfg,
      summary,
      provider: info,
      defaultProfiles: parts.profiles,
      weightsSha256: parts.weightsSha256,
      unknownWords: (prompt) => unknownWords(text.tokenizer, prompt, parts.vocabulary),
      generation: {
        cfg,
        sessions,
        cfgUncond,
        encodeText: (p) => text.encode(p),
        decode: (z, B, h, w) => vae.decode(z, B, h, w),
        fused: (precision, signal) => fused.get(precision, signal),
        releaseFused: () => fused.release(),
      },
      async release() {
        await fused.release();
        await sessions.release();
        await text.release();
        await vae.release();
        // block variants are built on demand from the checkpoint, so it stays open until release
        transformer.close();
        vaeReader.close();
      },
    };
  } catch (e) {
    transformer.close();
    vaeReader.close();
    throw e;
  }
}
