/**
 * The official ScaleKV budget table ("Scale 9".."Scale 13" -> "Block i": 1 drafter / 0 refiner, Max =
 * drafter budget, Min = refiner budget, High = number of drafters, Limit). In the official code the
 * table key for scale index si is "Scale {si+2}", the last scale reuses the one before it, and nothing
 * is compressed until a cache first exceeds the base capacity (650 in its inference scripts).
 */
import { ScaleKVError } from '../shared/errors';
import type { OfficialBudgetTable, ScaleShape } from '../shared/types';
import { cumulativeTokens } from '../model/schedule';

export const OFFICIAL_BASE_CAPACITY = 650;

export function tableKeyForScale(si: number, numScales: number): string {
  const s = si === numScales - 1 ? si - 1 : si;
  return `Scale ${s + 2}`;
}

export function scaleIndexOfKey(key: string): number {
  const m = /^Scale (\d+)$/.exec(key);
  if (!m) throw new ScaleKVError('E_BUDGET_INVALID', `Budget table key '${key}' is not of the form "Scale N".`);
  return Number(m[1]) - 2;
}

export function parseOfficialTable(text: string, origin: string): OfficialBudgetTable {
  let t: unknown;
  try {
    t = JSON.parse(text);
  } catch (e) {
    throw new ScaleKVError('E_BUDGET_INVALID', `${origin} is not valid JSON: ${(e as Error).message}`);
  }
  if (!t || typeof t !== 'object' || Array.isArray(t)) throw new ScaleKVError('E_BUDGET_INVALID', `${origin} is not a budget table (expected an object of "Scale N" entries).`);
  for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
    scaleIndexOfKey(k);
    if (!v || typeof v !== 'object') throw new ScaleKVError('E_BUDGET_INVALID', `${origin}: "${k}" is not an object.`);
    for (const [kk, vv] of Object.entries(v as Record<string, unknown>)) {
      if (typeof vv !== 'number' || !Number.isFinite(vv)) throw new ScaleKVError('E_BUDGET_INVALID', `${origin}: "${k}"."${kk}" must be a number.`);
    }
  }
  return t as OfficialBudgetTable;
}

export function tableDepth(t: OfficialBudgetTable): number {
  const first = Object.values(t)[0] ?? {};
  return Object.keys(first).filter((k) => /^Block \d+$/.test(k)).length;
}

/** Refuses tables that do not fit the model: depth, scales, budgets larger than the cache, roles. */
export function validateOfficialTable(t: OfficialBudgetTable, depth: number, schedule: ScaleShape[], origin = 'budget table'): void {
  const bad = (m: string) => {
    throw new ScaleKVError('E_BUDGET_INVALID', `${origin}: ${m}`);
  };
  const keys = Object.keys(t);
  if (!keys.length) bad('it has no "Scale N" entries.');
  const cum = cumulativeTokens(schedule);
  for (const key of keys) {
    const si = scaleIndexOfKey(key);
    if (si < 0 || si >= schedule.length - 1) bad(`"${key}" refers to scale index ${si}, but the model's schedule has ${schedule.length} scales (table keys go up to "Scale ${schedule.length}").`);
    const e = t[key];
    const blocks = Object.keys(e).filter((k) => /^Block \d+$/.test(k));
    if (blocks.length !== depth) bad(`"${key}" lists ${blocks.length} blocks, but the model has ${depth} layers.`);
    for (let l = 0; l < depth; l++) {
      const v = e[`Block ${l}`];
      if (v !== 0 && v !== 1) bad(`"${key}"."Block ${l}" must be 1 (drafter) or 0 (refiner), got ${v}.`);
    }
    for (const f of ['Max', 'Min']) if (!Number.isInteger(e[f]) || e[f] <= 0) bad(`"${key}".${f} must be a positive integer, got ${e[f]}.`);
    if (e.Min > e.Max) bad(`"${key}": refiner budget Min ${e.Min} is larger than drafter budget Max ${e.Max}.`);
    if (e.Max > cum[si]) bad(`"${key}": drafter budget Max ${e.Max} is larger than the ${cum[si]} tokens cached at that scale.`);
    const drafters = blocks.filter((b) => e[b] === 1).length;
    if ('High' in e && e.High !== drafters) bad(`"${key}": High = ${e.High}, but ${drafters} blocks are marked as drafters.`);
  }
}

/** cache_sizes as the official enable_scale_kv builds it: index "Scale N" -> per-block capacity. */
export function officialCacheSizes(t: OfficialBudgetTable, depth: number): (number[] | null)[] {
  const out: (number[] | null)[] = new Array(14).fill(null);
  for (let n = 9; n <= 13; n++) {
    const e = t[`Scale ${n}`];
    if (!e) {
      out[n] = [];
      continue;
    }
    out[n] = Array.from({ length: depth }, (_, b) => (e[`Block ${b}`] === 1 ? e.Max : e.Min));
  }
  return out;
}

/**
 * Cache length of every layer after every scale under the official update_kv semantics: nothing is
 * evicted until a cache exceeds baseCapacity; from then on the capacity of "Scale {si+2}" applies
 * (the last scale reusing the one before). Returns [scale][layer].
 */
export function simulateOfficialCacheLengths(t: OfficialBudgetTable, depth: number, schedule: ScaleShape[], baseCapacity = OFFICIAL_BASE_CAPACITY): number[][] {
  const sizes = officialCacheSizes(t, depth);
  const out: number[][] = [];
  const len = new Array(depth).fill(0);
  const reached = new Array(depth).fill(false);
  schedule.forEach((s, si) => {
    for (let l = 0; l < depth; l++) {
      const keyLen = len[l] + s.h * s.w;
      if (keyLen <= baseCapacity && !reached[l]) {
        len[l] = keyLen;
        continue;
      }
      reached[l] = true;
      const idx = (si === schedule.length - 1 ? si - 1 : si) + 2;
      const cap = sizes[idx]?.[l];
      if (cap === undefined) throw new ScaleKVError('E_BUDGET_INVALID', `The budget table has no "Scale ${idx}" entry, which scale ${si} needs once caches exceed ${baseCapacity} tokens.`);
      len[l] = Math.min(keyLen, cap);
    }
    out.push([...len]);
  });
  return out;
}
