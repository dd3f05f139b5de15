/**
 * Checks the data a view is given before drawing it, so a malformed file ends in a sentence naming
 * what is wrong instead of an exception deep inside d3 and a blank view.
 */
import type { RetentionSlice } from '../../src/shared/protocol';
import type { Leaderboard, RetentionIndex, RunPayload, RunRecord, ScaleKVProfile } from '../../src/shared/types';

const isInt = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;
const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);

function fail(msg: string): never {
  throw new Error(msg);
}

/**
 * The largest model and run the views will draw. Infinity-8B has 40 layers, 24 heads and 13 scales up
 * to 64x64 tokens; these leave ample room for larger models and resolutions, and stop a hostile file
 * (depth 10^9, a 10^6 x 10^6 token map) from making the view allocate until the webview dies.
 */
export const VIEW_LIMITS = { depth: 1024, heads: 1024, scales: 64, side: 1024, tokens: 4_000_000, batchRows: 4096 } as const;

function within(v: number, max: number, what: string): void {
  if (v > max) fail(`${what} is ${v}, more than the ${max} ScaleKV's views can draw: the file is damaged or not from ScaleKV`);
}

function checkSchedule(shapes: { h: number; w: number }[], where: string): void {
  within(shapes.length, VIEW_LIMITS.scales, `the number of scales in ${where}`);
  let total = 0;
  for (const s of shapes) {
    within(Math.max(s.h, s.w), VIEW_LIMITS.side, `a token map side in ${where}`);
    total += s.h * s.w;
  }
  within(total, VIEW_LIMITS.tokens, `the token count of ${where}`);
}

export function validateProfileShape(p: unknown): ScaleKVProfile {
  const x = p as ScaleKVProfile;
  if (!x || typeof x !== 'object') fail('the profile is not an object');
  if (x.format !== 'scalekv-profile') fail(`not a ScaleKV profile (format is ${JSON.stringify(x.format)})`);
  if (!x.model || !isInt(x.model.depth, 1)) fail('the profile has no model depth');
  if (!Array.isArray(x.scales) || !x.scales.length) fail('the profile has no scales');
  const depth = x.model.depth;
  within(depth, VIEW_LIMITS.depth, "the profile's model depth");
  within(x.scales.length, VIEW_LIMITS.scales, 'the number of scales in the profile');
  x.scales.forEach((s, i) => {
    if (!s || typeof s !== 'object') fail(`scale ${i} is not an object`);
    if (!Array.isArray(s.roles) || s.roles.length !== depth) fail(`scale ${i} does not list a role for each of the ${depth} layers`);
    const badRole = s.roles.findIndex((r) => r !== 'drafter' && r !== 'refiner');
    if (badRole >= 0) fail(`scale ${i}, layer ${badRole}: role ${JSON.stringify(s.roles[badRole])} is neither drafter nor refiner`);
    if (!s.shape || !isInt(s.shape.h, 1) || !isInt(s.shape.w, 1)) fail(`scale ${i} has no token-map shape`);
    if (!isInt(s.cumulativeTokens, 1)) fail(`scale ${i} has no cumulative token count`);
    within(Math.max(s.shape.h, s.shape.w), VIEW_LIMITS.side, `scale ${i}'s token map side`);
    within(s.cumulativeTokens, VIEW_LIMITS.tokens, `scale ${i}'s cumulative token count`);
    if (!isNum(s.drafterBudget) || !isNum(s.refinerBudget)) fail(`scale ${i} has no drafter/refiner budget`);
    if (s.asi !== undefined && (!Array.isArray(s.asi) || s.asi.length !== depth || !s.asi.every(isNum)))
      fail(`scale ${i} has an ASI list that is not ${depth} numbers`);
  });
  return x;
}

export function validateRunShape(r: unknown): RunRecord {
  const x = r as RunRecord;
  if (!x || typeof x !== 'object' || x.format !== 'scalekv-run') fail('not a ScaleKV run record');
  if (typeof x.id !== 'string') fail('the run record has no id');
  if (!x.model || !isInt(x.model.depth, 1)) fail('the run record has no model depth');
  if (!Array.isArray(x.schedule) || !x.schedule.length || !x.schedule.every((s) => s && isInt(s.h, 1) && isInt(s.w, 1)))
    fail('the run record has no scale schedule');
  within(x.model.depth, VIEW_LIMITS.depth, "the run's model depth");
  if (x.model.numHeads !== undefined) {
    if (!isInt(x.model.numHeads, 1)) fail("the run record's head count is not a positive integer");
    within(x.model.numHeads, VIEW_LIMITS.heads, "the run's head count");
  }
  checkSchedule(x.schedule, 'the run');
  if (!x.kv || !Array.isArray(x.kv.perScale)) fail('the run record has no KV report');
  within(x.kv.perScale.length, VIEW_LIMITS.scales, 'the number of scales in the KV report');
  x.kv.perScale.forEach((s, i) => {
    if (!s || !isNum(s.heldBytes) || !isNum(s.fullBytes) || !Array.isArray(s.perLayerHeld) || !Array.isArray(s.perLayerTokens))
      fail(`KV report entry ${i} lacks held/full bytes or per-layer numbers`);
    within(Math.max(s.perLayerHeld.length, s.perLayerTokens.length), VIEW_LIMITS.depth, `the layers of KV report entry ${i}`);
  });
  if (x.retention) validateRetentionIndex(x.retention);
  if (x.profile) validateProfileShape(x.profile);
  if (x.fidelity && (!Array.isArray(x.fidelity.images) || !Array.isArray(x.fidelity.tokenAgreement)))
    fail('the fidelity report lacks images or token agreement');
  if (x.fidelity) {
    within(x.fidelity.images.length, VIEW_LIMITS.batchRows, 'the number of images in the fidelity report');
    within(x.fidelity.tokenAgreement.length, VIEW_LIMITS.scales, 'the number of scales in the fidelity report');
  }
  return x;
}

export function validateLeaderboard(l: unknown): Leaderboard {
  const x = l as Leaderboard;
  if (!x || typeof x !== 'object') fail('the leaderboard is not an object');
  if (x.format !== 'scalekv-leaderboard') fail(`not a ScaleKV leaderboard (format is ${JSON.stringify(x.format)})`);
  if (!x.model || typeof x.model.name !== 'string' || !x.provider || !x.image) fail('the leaderboard has no model, provider or image size');
  if (!Array.isArray(x.rows)) fail('the leaderboard has no rows');
  for (const k of ['prompts', 'seeds', 'notes', 'references', 'perPrompt'] as const) {
    if (!Array.isArray(x[k])) fail(`the leaderboard's ${k} is not a list`);
  }
  x.rows.forEach((r, i) => {
    if (!r || typeof r.key !== 'string' || typeof r.label !== 'string' || typeof r.policy !== 'string') {
      fail(`leaderboard row ${i} has no key, label or policy`);
    }
    if (!isNum(r.ratio) || !isNum(r.kvHeldRatio) || !isNum(r.kvPeakRatio)) {
      fail(`leaderboard row ${i} (${r.label}) lacks its ratio or KV fractions`);
    }
    if (r.psnr !== null && !isNum(r.psnr)) fail(`leaderboard row ${i} (${r.label}) has a PSNR that is neither a number nor null`);
    if (!isInt(r.cases, 1) || !isInt(r.identical)) fail(`leaderboard row ${i} (${r.label}) has no case count`);
  });
  return x;
}

function validateRetentionIndex(r: RetentionIndex): RetentionIndex {
  if (!r || !isInt(r.batchRows, 1) || !isInt(r.heads, 1) || !Array.isArray(r.entries))
    fail('the retention index lacks rows, heads or entries');
  within(r.batchRows, VIEW_LIMITS.batchRows, "the retention index's row count");
  within(r.heads, VIEW_LIMITS.heads, "the retention index's head count");
  r.entries.forEach((e, i) => {
    if (!e || !isInt(e.layer) || !isInt(e.scaleIndex) || !isInt(e.count) || !Number.isInteger(e.offset) || e.offset < -1)
      fail(`retention entry ${i} is malformed`);
    within(e.count, VIEW_LIMITS.tokens, `retention entry ${i}'s token count`);
  });
  return r;
}

export function validateSlice(s: RetentionSlice, cacheTotal: number): RetentionSlice {
  if (!s || !Array.isArray(s.kept) || !s.selection) fail('the retention slice has no kept positions');
  const bad = s.kept.find((t) => !isInt(t) || t >= cacheTotal);
  if (bad !== undefined) fail(`the retention slice keeps token ${bad}, outside the ${cacheTotal} tokens cached so far`);
  return s;
}

/** The run payload of a notebook output; the retention bytes must cover every entry of the index. */
export function validateRunPayload(p: unknown): { payload: RunPayload; kept: Int32Array | null } {
  const x = p as RunPayload;
  if (!x || typeof x !== 'object') fail('the payload is not an object');
  validateRunShape(x.run);
  if (x.images !== undefined && !Array.isArray(x.images)) fail('images is not a list');
  let kept: Int32Array | null = null;
  if (x.retention) {
    const idx = validateRetentionIndex(x.retention.index);
    if (typeof x.retention.dataBase64 !== 'string') fail('the retention data is not base64 text');
    let bin: string;
    try {
      bin = atob(x.retention.dataBase64);
    } catch {
      fail('the retention data is not valid base64');
    }
    if (bin.length % 4) fail(`the retention data is ${bin.length} bytes, not a whole number of int32 values`);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    kept = new Int32Array(bytes.buffer); // little-endian on every platform a webview runs on
    for (const e of idx.entries) {
      if (e.offset >= 0 && e.offset + idx.batchRows * idx.heads * e.count > kept.length) {
        fail(`retention entry (layer ${e.layer}, scale ${e.scaleIndex}) reaches past the ${kept.length} values of the data`);
      }
    }
  }
  return { payload: x, kept };
}

/** One (row, head) slice of an inline retention record, as the host's reader would return it. */
export function sliceFromData(
  idx: RetentionIndex,
  data: Int32Array | null,
  layer: number,
  scaleIndex: number,
  row: number,
  head: number,
): { kept: number[]; cacheLen: number } | null {
  const e = idx.entries.find((x) => x.layer === layer && x.scaleIndex === scaleIndex);
  if (!e || row >= idx.batchRows || head >= idx.heads) return null;
  if (e.offset < 0) return { kept: Array.from({ length: e.count }, (_, i) => i), cacheLen: e.cacheLen };
  if (!data) return null;
  const at = e.offset + (row * idx.heads + head) * e.count;
  return { kept: Array.from(data.subarray(at, at + e.count)), cacheLen: e.cacheLen };
}

/**
 * A spreadsheet runs a cell that starts with = + - @ (or tab / CR) as a formula: text from a run (a
 * prompt like =HYPERLINK(...)) gets a leading ' so it stays text. Numbers, negative ones included, are
 * written as they are.
 */
function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  // an object would print as [object Object]; its JSON is what a reader of the CSV can use
  return JSON.stringify(v) ?? '';
}

export function csvCell(v: unknown): string {
  let s = cellText(v);
  if (typeof v !== 'number' && /^[=+\-@\t\r]/.test(s) && !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/** Tokens a layer holds after a scale: the run's measured count when there is one, else the budget. */
export function cachedTokens(p: ScaleKVProfile, layer: number, si: number, run?: RunRecord | null): number {
  const measured = run?.kv.perScale[si]?.perLayerTokens[layer];
  if (isNum(measured)) return measured;
  const s = p.scales[si];
  if (!s.compressed) return s.cumulativeTokens;
  return Math.min(s.cumulativeTokens, s.roles[layer] === 'drafter' ? s.drafterBudget : s.refinerBudget);
}

export function gridCsv(p: ScaleKVProfile, run?: RunRecord | null): string {
  const rows: unknown[][] = [];
  p.scales.forEach((s) =>
    s.roles.forEach((role, l) => {
      const budget = s.compressed ? (role === 'drafter' ? s.drafterBudget : s.refinerBudget) : s.cumulativeTokens;
      rows.push([
        l,
        s.scaleIndex,
        s.shape.h,
        s.shape.w,
        s.compressed,
        s.compressed ? role : 'full',
        budget,
        cachedTokens(p, l, s.scaleIndex, run),
        s.cumulativeTokens,
        s.asi ? s.asi[l] : '',
      ]);
    }),
  );
  return toCsv(['layer', 'scale', 'h', 'w', 'compressed', 'role', 'budget', 'cached_tokens', 'cumulative_tokens', 'asi'], rows);
}
