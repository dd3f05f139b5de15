/**
 * Turns a run's policy choice into a complete spec: reads the profile file (ours, or an official
 * budget table converted for this model), or falls back to the model's shipped profile for the run's
 * schedule, or, where none was calibrated for it (another aspect ratio), derives one on the fly.
 */
import { readFileSync } from 'node:fs';
import { sameSchedule } from '../model/schedule';
import { parseOfficialTable } from '../scalekv/officialBudget';
import { derivedProfile } from '../scalekv/derivedProfile';
import { checkProfileMatches, parseProfile, profileFromOfficial } from '../scalekv/profile';
import { ScaleKVError } from '../shared/errors';
import { PROFILE_POLICIES, type PolicySpec, type ProfileModelRef, type ScaleKVProfile } from '../shared/types';

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

/**
 * policies that read a ScaleKV profile when one is given: ScaleKV its roles and budgets, AMS-KV its drafters
 * as cache-demanding layers, HACK and HeatKV the per-head statistics of its calibration
 */
export function usesProfile(name: string): boolean {
  return (PROFILE_POLICIES as readonly string[]).includes(name);
}

/**
 * A run of a profile policy (scalekv, hack, heatkv) without an explicit profile uses the model's shipped
 * profile calibrated for the same schedule. Where none was (another aspect ratio), it derives one from
 * the nearest shipped profile with budgets for the run's ratio by the official rule, and says so in
 * `notices`: no manual step, nothing to wait for, and the notice tells how to calibrate for this
 * schedule instead.
 */
export function resolvePolicySpec(
  spec: PolicySpec,
  model: ProfileModelRef,
  defaultProfiles: string[] = [],
  notices: string[] = [],
  weightsSha256?: string,
): PolicySpec {
  const out = { ...spec };
  if (out.profile) return out;
  if (spec.profilePath && PROFILE_POLICIES.includes(spec.name)) {
    out.profile = checkProfileWeights(readProfileOrTable(spec.profilePath, model), spec.profilePath, weightsSha256);
  } else if (PROFILE_POLICIES.includes(spec.name) && spec.name !== 'amskv' && defaultProfiles.length) {
    const shipped = defaultProfiles.map((p) => checkProfileWeights(readProfileOrTable(p, model), p, weightsSha256));
    const fit = shipped.find((p) => sameSchedule(p.model.schedule, model.schedule));
    if (fit) {
      out.profile = fit;
      return out;
    }
    const same = shipped.filter((p) => {
      try {
        checkProfileMatches(p, { ...model, schedule: p.model.schedule });
        return true;
      } catch {
        return false;
      }
    });
    if (!same.length) {
      throw new ScaleKVError(
        'E_PROFILE_MODEL_MISMATCH',
        `None of the model's shipped profiles fits its layers and heads; calibrate one (ScaleKV: Calibrate, or scalekv calibrate).`,
      );
    }
    const d = derivedProfile(same, model, spec.ratio ?? 0.1, spec.windowSize);
    notices.push(d.notice);
    out.profile = d.profile;
  }
  return out;
}

/**
 * A profile that records the weights it was calibrated on must be for these weights: its drafters were
 * measured on the old ones (the shapes fit, so nothing else would notice). Profiles and models that
 * record no hash are taken as they are.
 */
export function checkProfileWeights(p: ScaleKVProfile, where: string, weightsSha256: string | undefined): ScaleKVProfile {
  const had = p.weights?.transformerSha256;
  if (had && weightsSha256 && had !== weightsSha256) {
    throw new ScaleKVError(
      'E_PROFILE_MODEL_MISMATCH',
      `The profile ${where} was calibrated on other weights (transformer sha256 ${had.slice(0, 12)}..., the model's is ` +
        `${weightsSha256.slice(0, 12)}...). Recalibrate it: npm run calibrate-default for the shipped model, else scalekv calibrate.`,
    );
  }
  return p;
}
