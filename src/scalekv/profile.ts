/**
 * ScaleKV profiles: our versioned JSON (roles, ASI, budgets, calibration settings, the model it was
 * made for): creation, validation against a loaded model, (de)serialisation, and conversion to and
 * from the official budget table.
 */
import { DEFAULTS } from '../shared/defaults';
import { ScaleKVError } from '../shared/errors';
import type {
  CalibrationInfo,
  LayerRole,
  OfficialBudgetTable,
  ProfileModelRef,
  ProfileScale,
  ProfileSettings,
  ScaleKVProfile,
  ScaleShape,
} from '../shared/types';
import { cumulativeTokens } from '../model/schedule';
import { allocateBudgets, cacheLengths, type BudgetPlan } from './budgets';
import { officialPlan, uniformTokensPerLayer } from './officialRule';
import {
  formatOfficialTable,
  OFFICIAL_BASE_CAPACITY,
  OFFICIAL_FIRST_KEY,
  officialCompressedScales,
  scaleIndexOfKey,
  tableKeyForScale,
  validateOfficialTable,
} from './officialBudget';

const PROFILE_FORMAT = 'scalekv-profile';
const PROFILE_VERSION = 1;

export const DEFAULT_SETTINGS: ProfileSettings = {
  targetRatio: DEFAULTS.ratio,
  windowSize: DEFAULTS.windowSize,
  poolingKernel: DEFAULTS.poolingKernel,
  pooling: 'maxpool',
  queryMode: DEFAULTS.queryMode,
  baseCapacity: OFFICIAL_BASE_CAPACITY,
  uncompressedTokens: 121,
  draftersPerScale: 2,
  refinerInitialBudget: 600,
  refinerDecay: 0.9,
};

const fmt = (s?: ScaleShape): string => (s ? `${s.h}x${s.w}` : '?');

function scheduleDiff(a: ScaleShape[], b: ScaleShape[]): string | null {
  if (a.length !== b.length)
    return `${a.length} scales ending at ${fmt(a.at(-1))} vs the model's ${b.length} scales ending at ${fmt(b.at(-1))}`;
  const i = a.findIndex((s, k) => s.h !== b[k].h || s.w !== b[k].w);
  return i < 0 ? null : `scale ${i} is ${fmt(a[i])} in the profile but ${fmt(b[i])} for the model`;
}

/** Throws E_PROFILE_MODEL_MISMATCH listing every difference (depth, heads, head dim, schedule). */
export function checkProfileMatches(p: ScaleKVProfile, model: ProfileModelRef, origin = 'profile'): void {
  const diffs: string[] = [];
  if (p.model.depth !== model.depth) diffs.push(`${p.model.depth} layers vs the model's ${model.depth}`);
  if (p.model.numHeads !== model.numHeads) diffs.push(`${p.model.numHeads} heads vs the model's ${model.numHeads}`);
  if (p.model.headDim !== model.headDim) diffs.push(`head dim ${p.model.headDim} vs the model's ${model.headDim}`);
  const sd = scheduleDiff(p.model.schedule, model.schedule);
  if (sd) diffs.push(`schedule: ${sd}`);
  if (!diffs.length) return;
  // same model, other resolution: say so, rather than "made for X and does not fit X"
  const target = p.model.name === model.name && diffs.length === 1 && sd ? `${model.name} at the current resolution` : model.name;
  throw new ScaleKVError(
    'E_PROFILE_MODEL_MISMATCH',
    `${origin} was made for ${p.model.name} and does not fit ${target}: ${diffs.join('; ')}.`,
  );
}

const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** Structural validation of a parsed profile; throws E_PROFILE_INVALID naming the field at fault. */
function validateProfile(x: unknown, origin = 'profile'): ScaleKVProfile {
  const bad = (m: string): never => {
    throw new ScaleKVError('E_PROFILE_INVALID', `${origin}: ${m}`);
  };
  if (!x || typeof x !== 'object' || Array.isArray(x)) bad('not a JSON object.');
  const p = x as ScaleKVProfile;
  if (p.format !== PROFILE_FORMAT)
    bad(
      `"format" is ${JSON.stringify(p.format)}, expected "${PROFILE_FORMAT}" (an official budget table? import it as a budget table instead).`,
    );
  if (p.version !== PROFILE_VERSION)
    bad(`unsupported version ${JSON.stringify(p.version)} (this extension reads version ${PROFILE_VERSION}).`);
  const m = p.model;
  if (!m || typeof m !== 'object') bad('"model" is missing.');
  if (typeof m.name !== 'string') bad('"model.name" must be a string.');
  for (const f of ['depth', 'numHeads', 'headDim'] as const)
    if (!isPosInt(m[f])) bad(`"model.${f}" must be a positive integer, got ${JSON.stringify(m[f])}.`);
  if (!Array.isArray(m.schedule) || !m.schedule.length || !m.schedule.every((s) => s && isPosInt(s.h) && isPosInt(s.w)))
    bad('"model.schedule" must be a non-empty list of {h, w} positive integers.');
  const st = p.settings;
  if (!st || typeof st !== 'object') bad('"settings" is missing.');
  if (!isPosInt(st.windowSize)) bad(`"settings.windowSize" must be a positive integer, got ${JSON.stringify(st.windowSize)}.`);
  if (!isPosInt(st.poolingKernel) || st.poolingKernel % 2 === 0)
    bad(`"settings.poolingKernel" must be a positive odd integer, got ${JSON.stringify(st.poolingKernel)}.`);
  if (st.pooling !== 'maxpool' && st.pooling !== 'avgpool')
    bad(`"settings.pooling" must be "maxpool" or "avgpool", got ${JSON.stringify(st.pooling)}.`);
  if (st.queryMode !== 'code' && st.queryMode !== 'paper')
    bad(`"settings.queryMode" must be "code" or "paper", got ${JSON.stringify(st.queryMode)}.`);
  if (!(st.targetRatio > 0 && st.targetRatio <= 1))
    bad(`"settings.targetRatio" must be within (0, 1], got ${JSON.stringify(st.targetRatio)}.`);
  if (st.budgetRule !== undefined && st.budgetRule !== 'official' && st.budgetRule !== 'legacy')
    bad(`"settings.budgetRule" must be "official" or "legacy", got ${JSON.stringify(st.budgetRule)}.`);
  if (st.asiMode !== undefined && !['eq2', 'current', 'history', 'sum'].includes(st.asiMode))
    bad(`"settings.asiMode" must be eq2, current, history or sum, got ${JSON.stringify(st.asiMode)}.`);
  if (!Array.isArray(p.scales) || p.scales.length !== m.schedule.length)
    bad(
      `"scales" must have one entry per scale of the schedule (${m.schedule.length}), got ${Array.isArray(p.scales) ? p.scales.length : 'none'}.`,
    );
  const cum = cumulativeTokens(m.schedule);
  p.scales.forEach((s, i) => {
    const at = `scales[${i}]`;
    if (!s || typeof s !== 'object') bad(`${at} is not an object.`);
    if (s.scaleIndex !== i) bad(`${at}.scaleIndex is ${s.scaleIndex}, expected ${i}.`);
    if (!s.shape || s.shape.h !== m.schedule[i].h || s.shape.w !== m.schedule[i].w)
      bad(`${at}.shape is ${fmt(s.shape)}, but model.schedule[${i}] is ${fmt(m.schedule[i])}.`);
    if (s.cumulativeTokens !== cum[i] || s.tokensBefore !== (i ? cum[i - 1] : 0))
      bad(
        `${at}: tokensBefore/cumulativeTokens are ${s.tokensBefore}/${s.cumulativeTokens}, the schedule gives ${i ? cum[i - 1] : 0}/${cum[i]}.`,
      );
    if (!Array.isArray(s.roles) || s.roles.length !== m.depth) bad(`${at}.roles must list ${m.depth} layers.`);
    if (s.roles.some((r) => r !== 'drafter' && r !== 'refiner')) bad(`${at}.roles may only hold "drafter" or "refiner".`);
    if (typeof s.compressed !== 'boolean') bad(`${at}.compressed must be true or false.`);
    if (s.compressed) {
      for (const f of ['drafterBudget', 'refinerBudget'] as const)
        if (!isPosInt(s[f])) bad(`${at}.${f} must be a positive integer, got ${JSON.stringify(s[f])}.`);
      if (s.refinerBudget > s.drafterBudget) bad(`${at}: refiner budget ${s.refinerBudget} exceeds drafter budget ${s.drafterBudget}.`);
      if (s.drafterBudget > cum[i]) bad(`${at}: drafter budget ${s.drafterBudget} exceeds the ${cum[i]} tokens cached at that scale.`);
      if (s.refinerBudget < st.windowSize)
        bad(`${at}: refiner budget ${s.refinerBudget} cannot hold the ${st.windowSize}-token observation window.`);
    }
    if (s.asi !== undefined && (!Array.isArray(s.asi) || s.asi.length !== m.depth)) bad(`${at}.asi must list ${m.depth} values.`);
  });
  return p;
}

export function parseProfile(text: string, origin = 'profile'): ScaleKVProfile {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (e) {
    throw new ScaleKVError('E_PROFILE_INVALID', `${origin} is not valid JSON: ${(e as Error).message}`);
  }
  return validateProfile(x, origin);
}

/** Parse, validate, and check against the loaded model in one step. */
export function loadProfileFor(text: string, model: ProfileModelRef, origin = 'profile'): ScaleKVProfile {
  const p = parseProfile(text, origin);
  checkProfileMatches(p, model, origin);
  return p;
}

export function serializeProfile(p: ScaleKVProfile): string {
  return `${JSON.stringify(p, null, 2)}\n`;
}

export interface CreateProfileArgs {
  model: ProfileModelRef;
  settings?: Partial<ProfileSettings>;
  /** [scale][layer]; defaults to every layer refining */
  roles?: LayerRole[][];
  /** budgets; allocated from settings when omitted */
  plan?: BudgetPlan;
  asi?: number[][];
  asiPerHead?: number[][][];
  /** Eq. 2 factors and the sum index per [scale][layer] */
  asiFactors?: { current: number[][]; history: number[][]; sum: number[][] };
  calibration?: CalibrationInfo;
  hack?: ScaleKVProfile['hack'];
  heat?: ScaleKVProfile['heat'];
  origin: string;
}

/** Per-scale budgets by the official rule for these roles (the last scale takes the row, and roles, before it). */
export function officialScaleBudgets(
  model: ProfileModelRef,
  roles: LayerRole[][],
  settings: ProfileSettings,
): {
  tokensPerLayer: number;
  scales: { compressed: boolean; drafterBudget: number; refinerBudget: number; limit?: number; roles: LayerRole[] }[];
} {
  const B = settings.tokensPerLayer ?? uniformTokensPerLayer(settings.targetRatio, model.schedule);
  const n = model.schedule.length;
  const plan = officialPlan(model.schedule, model.depth, (si) => roles[si].filter((r) => r === 'drafter').length, {
    tokensPerLayer: B,
    windowSize: settings.windowSize,
  });
  const cum = cumulativeTokens(model.schedule);
  return {
    tokensPerLayer: B,
    scales: model.schedule.map((_, si) => {
      const row = plan.rows[si];
      const r = si === n - 1 && n >= 2 && row ? roles[n - 2] : roles[si];
      if (!row) return { compressed: false, drafterBudget: cum[si], refinerBudget: cum[si], roles: r };
      // the last scale shares the row before it: its Limit is that scale's, which it does not carry
      return { compressed: true, drafterBudget: row.max, refinerBudget: row.min, ...(si === n - 1 ? {} : { limit: row.limit }), roles: r };
    }),
  };
}

/** A profile from roles and a budget plan (allocated from the settings' ratio when not given). */
/**
 * A profile from roles, with budgets by the settings' rule: 'official' (officialScaleBudgets; what
 * calibration uses by default) or 'legacy' (a.plan, or allocateBudgets from the settings' ratio; the
 * default here, so callers written before the official rule keep their budgets).
 */
export function createProfile(a: CreateProfileArgs): ScaleKVProfile {
  const rule = a.settings?.budgetRule ?? 'legacy';
  const settings: ProfileSettings = { ...DEFAULT_SETTINGS, ...a.settings, budgetRule: rule };
  const { model } = a;
  const roles = a.roles ?? model.schedule.map(() => new Array<LayerRole>(model.depth).fill('refiner'));
  const cum = cumulativeTokens(model.schedule);
  let budgets: ReturnType<typeof officialScaleBudgets>['scales'];
  if (rule === 'official') {
    const o = officialScaleBudgets(model, roles, settings);
    settings.tokensPerLayer = o.tokensPerLayer;
    // under the official rule nothing is compressed while a cache holds at most B: B is the base capacity
    settings.baseCapacity = o.tokensPerLayer;
    budgets = o.scales;
  } else {
    const plan = a.plan ?? allocateBudgets(model.schedule, model.depth, settings);
    settings.baseCapacity = a.settings?.baseCapacity ?? plan.baseCapacity;
    budgets = plan.scales.map((b, si) => ({
      compressed: b.compressed,
      drafterBudget: b.drafterBudget,
      refinerBudget: b.refinerBudget,
      roles: roles[si],
    }));
  }
  const p: ScaleKVProfile = {
    format: PROFILE_FORMAT,
    version: PROFILE_VERSION,
    createdAt: new Date().toISOString(),
    model,
    settings,
    scales: model.schedule.map((shape, si) => {
      const b = budgets[si];
      const s: ProfileScale = {
        scaleIndex: si,
        shape,
        tokensBefore: si ? cum[si - 1] : 0,
        cumulativeTokens: cum[si],
        compressed: b.compressed,
        drafterBudget: b.drafterBudget,
        refinerBudget: b.refinerBudget,
        roles: b.roles,
      };
      if (b.limit !== undefined) s.limit = b.limit;
      if (a.asi) s.asi = a.asi[si];
      if (a.asiPerHead) s.asiPerHead = a.asiPerHead[si];
      if (a.asiFactors) {
        s.asiCurrent = a.asiFactors.current[si];
        s.asiHistory = a.asiFactors.history[si];
        s.asiSum = a.asiFactors.sum[si];
      }
      return s;
    }),
    origin: a.origin,
  };
  if (a.calibration) p.calibration = a.calibration;
  if (a.hack) p.hack = a.hack;
  if (a.heat) p.heat = a.heat;
  return validateProfile(p, 'the new profile');
}

/** Cache length per layer after each scale when a profile's budgets are applied. [scale][layer] */
export function profileCacheLengths(p: ScaleKVProfile): number[][] {
  return cacheLengths(p.model.schedule, p.model.depth, (l, si) => {
    const s = p.scales[si];
    return s.compressed ? (s.roles[l] === 'drafter' ? s.drafterBudget : s.refinerBudget) : null;
  });
}

/**
 * An official table as a profile for a model. Scales compress exactly where update_kv would (from
 * the first one whose cache exceeds the base capacity), with the table's roles and budgets, the last
 * scale reusing "Scale 13"; profileCacheLengths then equals simulateCacheLengths on the table.
 */
export function profileFromOfficial(
  t: OfficialBudgetTable,
  model: ProfileModelRef,
  origin = 'budget table',
  settings: Partial<ProfileSettings> = {},
): ScaleKVProfile {
  const base = settings.baseCapacity ?? OFFICIAL_BASE_CAPACITY;
  validateOfficialTable(t, model.depth, model.schedule, origin, base);
  const cum = cumulativeTokens(model.schedule);
  const compressedSet = new Set(officialCompressedScales(model.schedule, base));
  const scales: ProfileScale[] = model.schedule.map((shape, si) => {
    const key = tableKeyForScale(si);
    const e = t[key];
    const compressed = compressedSet.has(si);
    const s: ProfileScale = {
      scaleIndex: si,
      shape,
      tokensBefore: si ? cum[si - 1] : 0,
      cumulativeTokens: cum[si],
      compressed,
      drafterBudget: compressed ? e.Max : cum[si],
      refinerBudget: compressed ? e.Min : cum[si],
      roles: Array.from({ length: model.depth }, (_, l) => (e && e[`Block ${l}`] === 1 ? 'drafter' : 'refiner')),
    };
    // only the scale a key is written for carries its Limit (the last scale shares "Scale 13")
    if (e && 'Limit' in e && scaleIndexOfKey(key) === si) s.limit = e.Limit;
    return s;
  });
  const firstEntry = Object.values(t)[0];
  const drafters = Object.keys(firstEntry).filter((k) => /^Block \d+$/.test(k) && firstEntry[k] === 1).length;
  return validateProfile(
    {
      format: PROFILE_FORMAT,
      version: PROFILE_VERSION,
      createdAt: new Date().toISOString(),
      model,
      settings: {
        ...DEFAULT_SETTINGS,
        draftersPerScale: drafters,
        budgetRule: 'official',
        tokensPerLayer: base,
        ...settings,
        baseCapacity: base,
      },
      scales,
      origin: 'official-import',
    } satisfies ScaleKVProfile,
    origin,
  );
}

/**
 * A profile as an official table: one "Scale {si+2}" entry per compressed scale except the last
 * (which the official code serves from "Scale 13"), keys in the shipped order (Block 0.., High, Max,
 * Min, Limit). Limit is the imported value when there is one, else what the shipped tables hold: the
 * previous scale's drafter budget plus this scale's tokens, capped by the tokens that exist.
 * Refuses profiles that compress scales the official code cannot budget (before "Scale 9").
 */
export function profileToOfficial(p: ScaleKVProfile): OfficialBudgetTable {
  const out: OfficialBudgetTable = {};
  const n = p.scales.length;
  for (const s of p.scales) {
    if (!s.compressed || s.scaleIndex === n - 1) continue;
    if (s.scaleIndex + 2 < OFFICIAL_FIRST_KEY) {
      throw new ScaleKVError(
        'E_BUDGET_INVALID',
        `This profile compresses scale ${s.scaleIndex} (${fmt(s.shape)}), but the official table format only carries "Scale ${OFFICIAL_FIRST_KEY}" and later (scale index 7+); export a profile made with a larger ratio or base capacity.`,
      );
    }
    const e: Record<string, number> = {};
    s.roles.forEach((r, l) => (e[`Block ${l}`] = r === 'drafter' ? 1 : 0));
    e.High = s.roles.filter((r) => r === 'drafter').length;
    e.Max = s.drafterBudget;
    e.Min = s.refinerBudget;
    const prev = p.scales[s.scaleIndex - 1];
    const prevDrafter = prev && prev.compressed ? prev.drafterBudget : prev ? prev.cumulativeTokens : 0;
    e.Limit = s.limit ?? Math.min(s.cumulativeTokens, prevDrafter + s.shape.h * s.shape.w);
    out[`Scale ${s.scaleIndex + 2}`] = e;
  }
  return out;
}

export { formatOfficialTable };
