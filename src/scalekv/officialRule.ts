/**
 * Budgets from a ratio by the rule the shipped official tables follow (reverse-engineered; all ten rows
 * of the 2B and 8B 10% tables reproduce exactly, see test/unit/scalekv/officialRule.test.ts):
 *
 *  - a uniform budget of B tokens per layer: B = ratio x the tokens cached before the last scale of the
 *    schedule (6,425 at 1024x1024); every compressed scale spends B x depth tokens in total. The shipped
 *    10% tables use B = 650 (the official base capacity; 10% of 6,425 is 642.5): pass
 *    tokensPerLayer = 650 to reproduce them;
 *  - compression starts at the first scale whose cache passes B and whose drafters can get more than B.
 *    Drafter budgets only come in steps of N_r / gcd(N_d, N_r) tokens above B (below), so a scale whose
 *    cache passes B by less than a step would give every layer exactly B: it stays whole. This is what
 *    makes the author's 4% tables start at scale index 6 (cache 521; index 5 holds 265 tokens, 8 more
 *    than B = 257) and the 20% tables at index 8, as the author said (StargazerX0/ScaleKV issue #6);
 *  - Limit = the cumulative tokens at the first compressed scale, then Limit(s) = Max(s-1) + tokens(s):
 *    the most any layer can hold there;
 *  - Max = the largest value <= Limit for which B x depth - N_d x Max divides evenly by N_r = depth - N_d,
 *    and Min = that quotient, floored at the refiner floor (200 at 1024x1024: it binds only in the 8B
 *    table's last row, whose Max then becomes 6,200). Other schedules scale the floor with their size
 *    (200 x tokens before the last scale / 6,425), never below the observation window nor above B;
 *  - the last scale reuses the row (roles and budgets) of the one before, as the official code does.
 * N_d may differ per scale (the paper's global ranking); a scale without drafters gives every layer B.
 */
import { ScaleKVError } from '../shared/errors';
import type { ScaleShape } from '../shared/types';
import { cumulativeTokens } from '../model/schedule';

const OFFICIAL_REFINER_FLOOR = 200;
/** tokens cached before the last 1024x1024 (1:1) scale: the reference the floor is stated for */
const OFFICIAL_REFERENCE_TOKENS = 6425;

const bad = (m: string): never => {
  throw new ScaleKVError('E_BUDGET_INVALID', m);
};

export function checkRatio(ratio: number, what = 'The ratio'): void {
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) bad(`${what} must be within (0, 1], got ${ratio}.`);
}

/** tokens cached when the last scale runs: the full cache every layer reads from history at the end */
function tokensBeforeLastScale(schedule: ScaleShape[]): number {
  if (schedule.length < 2) bad('A schedule of at least two scales is needed for compression.');
  return cumulativeTokens(schedule)[schedule.length - 2];
}

/** B for a ratio: ratio x the tokens cached before the last scale, rounded to the nearest token. */
export function uniformTokensPerLayer(ratio: number, schedule: ScaleShape[]): number {
  checkRatio(ratio);
  return Math.round(ratio * tokensBeforeLastScale(schedule));
}

/** The refiner floor for a schedule: 200 at 1024x1024, scaled with the schedule, within [window, B]. */
function refinerFloor(schedule: ScaleShape[], tokensPerLayer: number, windowSize: number): number {
  const scaled = Math.round((OFFICIAL_REFINER_FLOOR * tokensBeforeLastScale(schedule)) / OFFICIAL_REFERENCE_TOKENS);
  return Math.min(tokensPerLayer, Math.max(windowSize, scaled));
}

export interface OfficialRow {
  scaleIndex: number;
  /** the most a layer can hold at this scale (the tables' "Limit") */
  limit: number;
  /** drafter budget ("Max") and refiner budget ("Min") */
  max: number;
  min: number;
  /** drafters at this scale ("High") */
  drafters: number;
}

export interface OfficialPlan {
  tokensPerLayer: number;
  refinerFloor: number;
  /** the first compressed scale, -1 when none */
  start: number;
  /** one entry per scale; null where the scale is not compressed */
  rows: (OfficialRow | null)[];
}

export interface OfficialRuleOptions {
  /** B; by default from the ratio (uniformTokensPerLayer) */
  tokensPerLayer: number;
  windowSize: number;
  /** the refiner floor; by default refinerFloor(schedule, B, windowSize) */
  floor?: number;
}

/** Max and Min for one scale given its Limit (null when no Max above B exists while `needAboveB`). */
function split(limit: number, B: number, depth: number, nd: number, floor: number): { max: number; min: number } {
  const total = B * depth;
  const nr = depth - nd;
  if (nd === 0) return { max: B, min: B };
  if (nr === 0) return { max: Math.min(limit, B), min: Math.min(limit, B) };
  // the floor caps what the drafters may take: Min >= floor <=> Max <= (total - nr x floor) / nd
  const cap = Math.floor((total - nr * floor) / nd);
  let max = Math.min(limit, cap);
  // M = B always divides evenly, so at most nr steps down reach a solution
  while (max > B && (total - nd * max) % nr !== 0) max--;
  if (max < B) max = Math.min(limit, B);
  const min = nr ? Math.floor((total - nd * max) / nr) : max;
  return { max, min: Math.min(min, max) };
}

/**
 * The official rule's rows for a schedule, given the drafter count of every scale (draftersAt(si); the
 * last scale is not asked: it reuses the row before).
 */
export function officialPlan(
  schedule: ScaleShape[],
  depth: number,
  draftersAt: (si: number) => number,
  o: OfficialRuleOptions,
): OfficialPlan {
  const B = o.tokensPerLayer;
  if (!Number.isInteger(B) || B < o.windowSize) {
    bad(
      `A budget of ${B} tokens per layer cannot hold the ${o.windowSize}-token observation window every layer keeps; use a larger ratio.`,
    );
  }
  const floor = o.floor ?? refinerFloor(schedule, B, o.windowSize);
  const cum = cumulativeTokens(schedule);
  const n = schedule.length;
  const rows = new Array<OfficialRow | null>(n).fill(null);
  let start = -1;
  for (let si = 0; si < n - 1; si++) {
    const nd = draftersAt(si);
    if (!Number.isInteger(nd) || nd < 0 || nd > depth) bad(`Scale ${si} has ${nd} drafters; a ${depth}-layer model allows 0 to ${depth}.`);
    if (start < 0) {
      if (cum[si] <= B) continue;
      const first = split(cum[si], B, depth, nd, floor);
      if (nd > 0 && first.max <= B) continue; // no room to draft: this scale stays whole
      start = si;
      rows[si] = { scaleIndex: si, limit: cum[si], ...first, drafters: nd };
      continue;
    }
    const limit = Math.min(cum[si], rows[si - 1]!.max + schedule[si].h * schedule[si].w);
    rows[si] = { scaleIndex: si, limit, ...split(limit, B, depth, nd, floor), drafters: nd };
  }
  if (n >= 2 && rows[n - 2]) rows[n - 1] = { ...rows[n - 2]!, scaleIndex: n - 1 };
  return { tokensPerLayer: B, refinerFloor: floor, start, rows };
}

/** The scales whose roles matter under the official rule: those whose cache passes B, up to the one before the last. */
export function officialEligibleScales(schedule: ScaleShape[], tokensPerLayer: number): number[] {
  const cum = cumulativeTokens(schedule);
  return schedule.map((_, si) => si).filter((si) => si < schedule.length - 1 && cum[si] > tokensPerLayer);
}

/**
 * Drafter pairs per compressed layer-scale pair in the official tables: 2B marks 2+2+2+2+1 of 5 x 32
 * pairs, 8B 3 x 5 of 5 x 40; pooled, 24 of 360 = 1/15. N_d for Eq. 3 defaults to this density times
 * the eligible pairs, so a calibrated profile drafts about as much as the official ones.
 */
const OFFICIAL_DRAFTER_DENSITY = 24 / 360;

export function defaultDrafterPairs(depth: number, eligibleScales: number): number {
  return Math.max(1, Math.round(OFFICIAL_DRAFTER_DENSITY * depth * eligibleScales));
}
