/**
 * Turns a run's policy choice into a complete spec: reads the profile file (ours, or an official
 * budget table converted for this model), or falls back to the model's shipped default profile.
 */
import { readFileSync } from 'node:fs';
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

export function resolvePolicySpec(spec: PolicySpec, model: ProfileModelRef, defaultProfile?: string): PolicySpec {
  const out = { ...spec };
  const usesProfile = spec.name === 'scalekv' || (spec.name === 'amskv' && !!spec.profilePath);
  if (usesProfile && !out.profile) {
    const p = spec.profilePath ?? (spec.name === 'scalekv' ? defaultProfile : undefined);
    if (p) out.profile = readProfileOrTable(p, model);
  }
  return out;
}
