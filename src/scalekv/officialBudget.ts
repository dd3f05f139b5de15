/**
 * The official ScaleKV budget table: {"Scale N": {"Block i": 1 drafter | 0 refiner, ..., "High": number
 * of drafters, "Max": drafter budget, "Min": refiner budget, "Limit": ...}}, as shipped in
 * StargazerX0/ScaleKV's budgets/. How the official code reads it:
 *  - get_cache_sizes builds a 14-slot list; slot N (9..13) holds per-block capacities (Max for
 *    drafters, Min for refiners), an empty list when "Scale N" is absent; other slots stay None;
 *  - update_kv at scale index si reads slot si+2, except si = 12 which reuses slot 13;
 *  - nothing is evicted until a layer's cache first exceeds base_capacity (the inference scripts pass
 *    650); after that every scale applies its capacity, and a layer missing from its slot (an empty
 *    list) falls back to base_capacity.
 * In both shipped tables "Limit" equals the previous scale's drafter budget plus the scale's tokens
 * (the most a drafter can hold there); the code never reads it, we keep it so tables round-trip.
 */
import { ScaleKVError } from '../shared/errors';
import type { OfficialBudgetTable, ScaleShape } from '../shared/types';
import { cumulativeTokens } from '../model/schedule';

export const OFFICIAL_BASE_CAPACITY = 650;
/** the slots get_cache_sizes fills */
export const OFFICIAL_FIRST_KEY = 9;
const OFFICIAL_LAST_KEY = 13;
/** the official code's last scale index, whose capacity comes from the one before */
const OFFICIAL_LAST_SCALE = 12;

const BLOCK = /^Block (\d+)$/;
const bad = (m: string): never => {
  throw new ScaleKVError('E_BUDGET_INVALID', m);
};

/** The table slot update_kv reads at scale index si. */
function officialSlotForScale(si: number): number {
  return (si === OFFICIAL_LAST_SCALE ? si - 1 : si) + 2;
}

/** The table key update_kv reads at scale index si ("Scale {si+2}", si = 12 reading "Scale 13"). */
export function tableKeyForScale(si: number): string {
  return `Scale ${officialSlotForScale(si)}`;
}

/** The scale index a key is written for (the last scale shares "Scale 13" without its own key). */
export function scaleIndexOfKey(key: string): number {
  const m = /^Scale (\d+)$/.exec(key);
  if (!m) bad(`Budget table key '${key}' is not of the form "Scale N".`);
  return Number(m![1]) - 2;
}

/** Parse the official JSON; types are checked here, fit to a model in validateOfficialTable. */
export function parseOfficialTable(text: string, origin = 'budget table'): OfficialBudgetTable {
  let t: unknown;
  try {
    t = JSON.parse(text);
  } catch (e) {
    bad(`${origin} is not valid JSON: ${(e as Error).message}`);
  }
  if (!t || typeof t !== 'object' || Array.isArray(t)) bad(`${origin} is not a budget table (expected an object of "Scale N" entries).`);
  for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
    scaleIndexOfKey(k);
    if (!v || typeof v !== 'object' || Array.isArray(v)) bad(`${origin}: "${k}" is not an object.`);
    for (const [kk, vv] of Object.entries(v as Record<string, unknown>)) {
      if (!BLOCK.test(kk) && !['High', 'Max', 'Min', 'Limit'].includes(kk))
        bad(`${origin}: "${k}" has an unknown field "${kk}" (expected "Block i", High, Max, Min, Limit).`);
      if (typeof vv !== 'number' || !Number.isFinite(vv)) bad(`${origin}: "${k}"."${kk}" must be a number, got ${JSON.stringify(vv)}.`);
    }
  }
  return t as OfficialBudgetTable;
}

/** Serialised exactly like the shipped files: 2-space indentation, no trailing newline. */
export function formatOfficialTable(t: OfficialBudgetTable): string {
  return JSON.stringify(t, null, 2);
}

/** Number of "Block i" entries of the first scale (the table's model depth). */
export function tableDepth(t: OfficialBudgetTable): number {
  const first = Object.values(t)[0] ?? {};
  return Object.keys(first).filter((k) => BLOCK.test(k)).length;
}

/**
 * Scale indices at which a cache is compressed under the official semantics: from the first scale
 * whose uncompressed cache exceeds baseCapacity to the end.
 */
export function officialCompressedScales(schedule: ScaleShape[], baseCapacity = OFFICIAL_BASE_CAPACITY): number[] {
  const cum = cumulativeTokens(schedule);
  const first = cum.findIndex((c) => c > baseCapacity);
  return first < 0 ? [] : schedule.map((_, si) => si).slice(first);
}

/**
 * Refuses tables that do not fit the model, naming the scale, block and value at fault: block count
 * vs depth, keys outside the schedule, a compressed scale without its key, roles other than 0/1,
 * High vs the drafters marked, Min > Max, budgets above the tokens that exist at that scale.
 */
export function validateOfficialTable(
  t: OfficialBudgetTable,
  depth: number,
  schedule: ScaleShape[],
  origin = 'budget table',
  baseCapacity = OFFICIAL_BASE_CAPACITY,
): void {
  const keys = Object.keys(t);
  if (!keys.length) bad(`${origin}: it has no "Scale N" entries.`);
  const cum = cumulativeTokens(schedule);
  const lastKeyScale = Math.min(schedule.length - 1, OFFICIAL_LAST_SCALE - 1);
  for (const key of keys) {
    const si = scaleIndexOfKey(key);
    if (si < OFFICIAL_FIRST_KEY - 2 || si > lastKeyScale) {
      bad(
        `${origin}: "${key}" cannot be used: the official code reads "Scale ${OFFICIAL_FIRST_KEY}".."Scale ${OFFICIAL_LAST_KEY}" and the model's ${schedule.length}-scale schedule reaches "Scale ${lastKeyScale + 2}".`,
      );
    }
    const e = t[key];
    const blocks = Object.keys(e).filter((k) => BLOCK.test(k));
    if (blocks.length !== depth) bad(`${origin}: "${key}" lists ${blocks.length} blocks, but the model has ${depth} layers.`);
    for (let l = 0; l < depth; l++) {
      const v = e[`Block ${l}`];
      if (v === undefined) bad(`${origin}: "${key}" has no "Block ${l}" (blocks must be numbered 0..${depth - 1}).`);
      if (v !== 0 && v !== 1) bad(`${origin}: "${key}"."Block ${l}" must be 1 (drafter) or 0 (refiner), got ${v}.`);
    }
    for (const f of ['Max', 'Min'] as const) {
      if (!Number.isInteger(e[f]) || e[f] <= 0) bad(`${origin}: "${key}".${f} must be a positive integer, got ${e[f]}.`);
    }
    if (e.Min > e.Max) bad(`${origin}: "${key}": refiner budget Min = ${e.Min} is larger than drafter budget Max = ${e.Max}.`);
    const avail = cum[si];
    const shape = schedule[si];
    if (e.Max > avail)
      bad(
        `${origin}: "${key}": drafter budget Max = ${e.Max} is larger than the ${avail} tokens cached at scale ${si} (${shape.h}x${shape.w}).`,
      );
    if ('Limit' in e && (!Number.isInteger(e.Limit) || e.Limit <= 0 || e.Limit > avail)) {
      bad(`${origin}: "${key}".Limit = ${e.Limit} must be a positive integer no larger than the ${avail} tokens cached at scale ${si}.`);
    }
    const drafters = blocks.filter((b) => e[b] === 1).length;
    if ('High' in e && e.High !== drafters) bad(`${origin}: "${key}".High = ${e.High}, but ${drafters} blocks are marked as drafters (1).`);
  }
  for (const si of officialCompressedScales(schedule, baseCapacity)) {
    const key = tableKeyForScale(si);
    if (!(key in t))
      bad(
        `${origin}: "${key}" is missing; scale ${si} (${schedule[si].h}x${schedule[si].w}) reads it once caches exceed the base capacity of ${baseCapacity} tokens.`,
      );
  }
}

/** The 14-slot cache_sizes list get_cache_sizes builds (null where it leaves None). */
export function officialCacheSizes(t: OfficialBudgetTable, depth: number): (number[] | null)[] {
  const out = new Array<number[] | null>(OFFICIAL_LAST_KEY + 1).fill(null);
  for (let n = OFFICIAL_FIRST_KEY; n <= OFFICIAL_LAST_KEY; n++) {
    const e = t[`Scale ${n}`];
    out[n] = e ? Array.from({ length: depth }, (_, b) => (e[`Block ${b}`] === 1 ? e.Max : e.Min)) : [];
  }
  return out;
}

/**
 * Each layer's cache length after each scale ([scale][layer]) under update_kv: kept whole while it
 * is within baseCapacity and compression has not started, then cut to its slot's capacity.
 * Throws where the official code would fail (a compressed scale whose slot get_cache_sizes left None).
 */
export function simulateCacheLengths(
  t: OfficialBudgetTable,
  depth: number,
  schedule: ScaleShape[],
  baseCapacity = OFFICIAL_BASE_CAPACITY,
): number[][] {
  const sizes = officialCacheSizes(t, depth);
  const len = new Array<number>(depth).fill(0);
  const reached = new Array<boolean>(depth).fill(false);
  return schedule.map((s, si) => {
    for (let l = 0; l < depth; l++) {
      const keyLen = len[l] + s.h * s.w;
      if (keyLen <= baseCapacity && !reached[l]) {
        len[l] = keyLen;
        continue;
      }
      reached[l] = true;
      const slot = officialSlotForScale(si);
      const caps = sizes[Math.min(slot, sizes.length - 1)];
      if (!caps)
        bad(
          `Scale ${si} exceeds the base capacity of ${baseCapacity} tokens but the official code has no budgets for it (slot ${slot} is unset; only "Scale 9".."Scale 13" are read).`,
        );
      const cap = l < caps!.length ? caps![l] : baseCapacity;
      len[l] = Math.min(keyLen, cap);
    }
    return [...len];
  });
}
