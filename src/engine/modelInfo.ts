/**
 * A model's configuration read off its files' tensor shapes, without building any session: what a
 * budget table or profile is checked against (import-budget --model) in a moment, even for Infinity-8B.
 */
import { join } from 'node:path';
import { CheckpointWeights, openCheckpoint } from '../checkpoint';
import { locateModel } from '../checkpoint/modelFolder';
import { inferInfinityConfig, inferVaeConfig } from '../model/inferConfig';
import type { InfinityConfig } from '../model/config';
import { readT5Config } from '../model/t5Config';
import { PrefixedWeights } from '../model/weights';
import { embeddedModelDir } from './loadModel';

export function readModelConfig(modelPath: string | undefined): InfinityConfig {
  const parts = locateModel(modelPath ?? embeddedModelDir());
  const transformer = openCheckpoint(parts.transformer);
  const vae = openCheckpoint(parts.vae);
  try {
    const vaeCfg = inferVaeConfig(new PrefixedWeights(new CheckpointWeights(vae), parts.vaePrefix));
    return inferInfinityConfig(
      new CheckpointWeights(transformer),
      vaeCfg,
      readT5Config(join(parts.textEncoderDir, 'config.json')),
      parts.name,
    );
  } finally {
    transformer.close();
    vae.close();
  }
}
