/**
 * Recalibrates a model folder's shipped ScaleKV profiles after its weights changed (`npm run
 * calibrate-default` for the embedded model): one calibration at 10% on the given prompts at the
 * manifest's resolution, the 4% and 20% profiles derived from it (the drafters come from the ASI, which
 * does not depend on the ratio; the budgets are the official rule's for each ratio), every profile
 * stamped with the transformer's sha256, and the manifest's `profile`/`profiles` rewritten to list them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelManifest } from '../checkpoint/modelFolder';
import { locateModel } from '../checkpoint/modelFolder';
import type { EngineApi, JobContext } from '../engine/api';
import { derivedProfile } from '../scalekv/derivedProfile';
import { ScaleKVError } from '../shared/errors';
import { writeFileAtomic } from '../shared/outputFiles';
import { calibrateRequest } from '../shared/requests';
import type { ProviderSetting, ScaleKVProfile } from '../shared/types';

export const SHIPPED_RATIOS = [0.1, 0.04, 0.2] as const;

export const profileFileName = (resolution: string, ratio: number) => `profile-${resolution}-${Math.round(ratio * 100)}pct.json`;

export interface ShippedCalibration {
  files: string[];
  weightsSha256: string;
}

export async function calibrateShipped(
  engine: Pick<EngineApi, 'calibrate'>,
  modelDir: string,
  prompts: string[],
  provider: ProviderSetting,
  ctx: JobContext,
): Promise<ShippedCalibration> {
  const manifestPath = join(modelDir, 'manifest.json');
  const parts = locateModel(modelDir);
  if (!parts.weightsSha256) {
    throw new ScaleKVError(
      'E_INVALID_REQUEST',
      `${manifestPath} records no sha256 of its transformer (files.<name>.sha256); shipped profiles must name the weights they measure.`,
    );
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelManifest & { resolution?: string };
  const resolution = manifest.resolution;
  if (typeof resolution !== 'string') throw new ScaleKVError('E_INVALID_REQUEST', `${manifestPath} has no "resolution" to calibrate at.`);
  const [measured, ...derived] = SHIPPED_RATIOS;
  const files = [profileFileName(resolution, measured)];
  const { profile } = await engine.calibrate(
    calibrateRequest({ modelPath: modelDir, prompts, resolution, ratio: measured, provider, outPath: join(modelDir, files[0]) }),
    ctx,
  );
  if (profile.weights?.transformerSha256 !== parts.weightsSha256) {
    throw new ScaleKVError('E_INTERNAL', `the calibrated profile does not record the weights it measured (${files[0]})`);
  }
  for (const ratio of derived) {
    const d: ScaleKVProfile = derivedProfile([profile], profile.model, ratio, profile.settings.windowSize).profile;
    d.weights = profile.weights;
    d.calibration = profile.calibration;
    d.origin = `calibration at ratio ${measured} (${files[0]}): its drafter roles and per-head statistics, budgets for ratio ${ratio} by the official rule`;
    const f = profileFileName(resolution, ratio);
    writeFileAtomic(join(modelDir, f), JSON.stringify(d, null, 2));
    files.push(f);
  }
  writeFileAtomic(manifestPath, JSON.stringify({ ...manifest, profile: files[0], profiles: files }, null, 1));
  return { files, weightsSha256: parts.weightsSha256 };
}
