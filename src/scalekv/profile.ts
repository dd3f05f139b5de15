/**
 * ScaleKV profiles: our versioned JSON (classification, ASI, budgets, calibration prompts and
 * settings, the model it belongs to), validation against a loaded model, and conversion to and from
 * the official budget table format.
 */
import { ScaleKVError } from '../shared/errors';
import type { OfficialBudgetTable, ProfileModelRef, ProfileScale, ProfileSettings, ScaleKVProfile, ScaleShape } from '../shared/types';
import { cumulativeTokens } from '../model/schedule';
import { OFFICIAL_BASE_CAPACITY, scaleIndexOfKey, tableKeyForScale, validateOfficialTable } from './officialBudget';

export const DEFAULT_SETTINGS: ProfileSettings = {
  targetRatio: 0.1,
  windowSize: 16,
  poolingKernel: 5,
  pooling: 'maxpool',
  queryMode: 'code',
  baseCapacity: OFFICIAL_BASE_CAPACITY,
  uncompressedTokens: 121,
  draftersPerScale: 2,
  refinerInitialBudget: 600,
  refinerDecay: 0.9,
};

function sameSchedule(a: ScaleShape[], b: ScaleShape[]): boolean {
  return a.length === b.length && a.every((s, i) => s.h === b[i].h && s.w === b[i].w);
}

/** Throws E_PROFILE_MODEL_MISMATCH saying what differs. */
export function checkProfileMatches(p: ScaleKVProfile, model: ProfileModelRef, origin = 'profile'): void {
  const diffs: string[] = [];
  if (p.model.depth !== model.depth) diffs.push(`${p.model.depth} layers vs the model's ${model.depth}`);
  if (p.model.numHeads !== model.numHeads) diffs.push(`${p.model.numHeads} heads vs ${model.numHeads}`);
  if (p.model.headDim !== model.headDim) diffs.push(`head dim ${p.model.headDim} vs ${model.headDim}`);
  if (!sameSchedule(p.model.schedule, model.schedule)) {
    diffs.push(`a ${p.model.schedule.length}-scale schedule ending at ${fmt(p.model.schedule.at(-1))} vs the run's ${model.schedule.length} scales ending at ${fmt(model.schedule.at(-1))}`);
  }
  if (diffs.length) {
    throw new ScaleKVError('E_PROFILE_MODEL_MISMATCH', `${origin} was made for ${p.model.name} and does not fit ${model.name}: ${diffs.join('; ')}.`);
  }
}

function fmt(s?: ScaleShape): string {
  return s ? `${s.h}x${s.w}` : '?';
}

/** Structural validation of a parsed profile; throws E_PROFILE_INVALID naming the field. */
export function validateProfile(x: unknown, origin = 'profile'): ScaleKVProfile {
  const bad = (m: string): never => {
    throw new ScaleKVError('E_PROFILE_INVALID', `${origin}: ${m}`);
  };
  if (!x || typeof x !== 'object') bad('not a JSON object.');
  const p = x as ScaleKVProfile;
  if (p.format !== 'scalekv-profile') bad(`"format" is ${JSON.stringify(p.format)}, expected "scalekv-profile" (an official budget table? import it with ScaleKV: Import Budget).`);
  if (p.version !== 1) bad(`unsupported version ${JSON.stringify(p.version)} (this extension reads version 1).`);
  const m = p.model;
  if (!m || !Number.isInteger(m.depth) || m.depth <= 0 || !Number.isInteger(m.numHeads) || !Array.isArray(m.schedule)) bad('"model" must give depth, numHeads, headDim and schedule.');
  if (!Array.isArray(p.scales) || p.scales.length !== m.schedule.length) bad(`"scales" must have one entry per scale of the schedule (${m.schedule.length}).`);
  const cum = cumulativeTokens(m.schedule);
  p.scales.forEach((s, i) => {
    if (s.scaleIndex !== i) bad(`scales[${i}].scaleIndex is ${s.scaleIndex}.`);
    if (!Array.isArray(s.roles) || s.roles.length !== m.depth) bad(`scales[${i}].roles must list ${m.depth} layers.`);
    if (s.roles.some((r) => r !== 'drafter' && r !== 'refiner')) bad(`scales[${i}].roles may only hold "drafter" or "refiner".`);
    if (s.compressed) {
      for (const f of ['drafterBudget', 'refinerBudget'] as const) {
        if (!Number.isInteger(s[f]) || s[f] <= 0) bad(`scales[${i}].${f} must be a positive integer.`);
      }
      if (s.refinerBudget > s.drafterBudget) bad(`scales[${i}]: refiner budget ${s.refinerBudget} exceeds drafter budget ${s.drafterBudget}.`);
      if (s.drafterBudget > cum[i]) bad(`scales[${i}]: drafter budget ${s.drafterBudget} exceeds the ${cum[i]} tokens cached at that scale.`);
      if (s.refinerBudget < (p.settings?.windowSize ?? 16)) bad(`scales[${i}]: refiner budget ${s.refinerBudget} cannot hold the ${p.settings?.windowSize ?? 16}-token observation window.`);
    }
    if (s.asi && s.asi.length !== m.depth) bad(`scales[${i}].asi must list ${m.depth} values.`);
  });
  if (!p.settings) bad('"settings" is missing.');
  return p;
}

export function parseProfile(text: string, origin: string): ScaleKVProfile {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    throw new ScaleKVError('E_PROFILE_INVALID', `${origin} is not valid JSON: ${(e as Error).message}`);
  }
  return validateProfile(x, origin);
}

/** Cache length per layer after each scale when a profile's budgets are applied. [scale][layer] */
export function profileCacheLengths(p: ScaleKVProfile): number[][] {
  const depth = p.model.depth;
  const len = new Array(depth).fill(0);
  return p.scales.map((s) => {
    for (let l = 0; l < depth; l++) {
      const k = len[l] + s.shape.h * s.shape.w;
      len[l] = s.compressed ? Math.min(k, s.roles[l] === 'drafter' ? s.drafterBudget : s.refinerBudget) : k;
    }
    return [...len];
  });
}

/**
 * An official table as a profile for a model. Scales compress from the first one whose cache exceeds
 * the official base capacity, which reproduces the official update_kv exactly (see officialBudget.ts).
 */
export function profileFromOfficial(t: OfficialBudgetTable, model: ProfileModelRef, origin = 'budget table', settings: Partial<ProfileSettings> = {}): ScaleKVProfile {
  validateOfficialTable(t, model.depth, model.schedule, origin);
  const cum = cumulativeTokens(model.schedule);
  const base = settings.baseCapacity ?? OFFICIAL_BASE_CAPACITY;
  const first = cum.findIndex((c) => c > base);
  const n = model.schedule.length;
  let tokensBefore = 0;
  const scales: ProfileScale[] = model.schedule.map((shape, si) => {
    const key = tableKeyForScale(si, n);
    const e = t[key];
    const compressed = first >= 0 && si >= first;
    if (compressed && !e) throw new ScaleKVError('E_BUDGET_INVALID', `${origin} has no "${key}" entry, which scale ${si} (${shape.h}x${shape.w}) needs.`);
    const s: ProfileScale = {
      scaleIndex: si,
      shape,
      tokensBefore,
      cumulativeTokens: cum[si],
      compressed,
      drafterBudget: compressed ? e.Max : cum[si],
      refinerBudget: compressed ? e.Min : cum[si],
      roles: Array.from({ length: model.depth }, (_, l) => (e && e[`Block ${l}`] === 1 ? 'drafter' : 'refiner')),
    };
    if (e && 'Limit' in e && si !== n - 1) s.limit = e.Limit;
    tokensBefore = cum[si];
    return s;
  });
  const drafters = Object.values(t)[0] ? Object.keys(Object.values(t)[0]).filter((k) => /^Block/.test(k) && Object.values(t)[0][k] === 1).length : 0;
  return {
    format: 'scalekv-profile',
    version: 1,
    createdAt: new Date().toISOString(),
    model,
    settings: { ...DEFAULT_SETTINGS, draftersPerScale: drafters, ...settings, baseCapacity: base },
    scales,
    origin: 'official-import',
  };
}

/** A profile as an official table: one "Scale {si+2}" entry per compressed scale but the last. */
export function profileToOfficial(p: ScaleKVProfile): OfficialBudgetTable {
  const out: OfficialBudgetTable = {};
  const n = p.scales.length;
  for (const s of p.scales) {
    if (!s.compressed || s.scaleIndex === n - 1) continue;
    const e: Record<string, number> = {};
    s.roles.forEach((r, l) => (e[`Block ${l}`] = r === 'drafter' ? 1 : 0));
    e.High = s.roles.filter((r) => r === 'drafter').length;
    e.Max = s.drafterBudget;
    e.Min = s.refinerBudget;
    e.Limit = s.limit ?? s.cumulativeTokens;
    out[`Scale ${s.scaleIndex + 2}`] = e;
  }
  return out;
}

/** Serialise exactly like the official files (2-space JSON, no trailing newline). */
export function formatOfficialTable(t: OfficialBudgetTable): string {
  return JSON.stringify(t, null, 2);
}

export { scaleIndexOfKey };
