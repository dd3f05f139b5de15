/**
 * Turns a run's policy choice into a complete spec: reads the profile file (ours, or an official
 * budget table converted for this model), or falls back to the model's shipped default profile.
 */
import { readFileSync } from 'node:fs';
import { sameSchedule } from '../model/schedule';
import { parseOfficialTable } from '../scalekv/officialBudget';
import { parseProfile, profileFromOfficial } from '../scalekv/profile';
import { ScaleKVError } from '../shared/errors';
import type { PolicySpec, ProfileModelRef, ScaleKVProfile } from '../shared/types';

export function readProfileOrTable(path: string, model: ProfileModelRef): ScaleKVProfile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ScaleKVError('E_PROFILE_INVALID', `Profile not found: ${path}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScaleKVError('E_PROFILE_INVALID', `${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (json && typeof json === 'object' && (json as { format?: string }).format === 'scalekv-profile') return parseProfile(text, path);
  if (json && typeof json === 'object' && Object.keys(json).some((k) => /^Scale \d+$/.test(k))) {
    return profileFromOfficial(parseOfficialTable(text, path), model, path);
  }
  throw new ScaleKVError('E_PROFILE_INVALID', `${path} is neither a ScaleKV profile nor an official budget table.`);
}

/** policies that read a ScaleKV profile when one is given (AMS-KV takes its drafters as cache-demanding layers) */
export function usesProfile(name: string): boolean {
  return name === 'scalekv' || name === 'amskv';
}

/**
 * A ScaleKV run without an explicit profile uses the model's shipped profile calibrated for the same
 * schedule; when none fits, the error says which schedules have one and how to calibrate another.
 */
export function resolvePolicySpec(spec: PolicySpec, model: ProfileModelRef, defaultProfiles: string[] = []): PolicySpec {
  const out = { ...spec };
  if (out.profile) return out;
  if (spec.profilePath && usesProfile(spec.name)) {
    out.profile = readProfileOrTable(spec.profilePath, model);
  } else if (spec.name === 'scalekv' && defaultProfiles.length) {
    const shipped = defaultProfiles.map((p) => readProfileOrTable(p, model));
    const fit = shipped.find((p) => sameSchedule(p.model.schedule, model.schedule));
    if (!fit) {
      const have = shipped.map((p) => `${p.model.schedule.length} scales to ${p.model.schedule.at(-1)?.h}x${p.model.schedule.at(-1)?.w}`).join(', ');
      throw new ScaleKVError('E_PROFILE_MODEL_MISMATCH', `The model ships ScaleKV profiles for ${have}, not for this run's ${model.schedule.length} scales to ${model.schedule.at(-1)?.h}x${model.schedule.at(-1)?.w}. Calibrate one for it (ScaleKV: Calibrate, or scalekv calibrate with the same --resolution and --aspect).`);
    }
    out.profile = fit;
  }
  return out;
}
