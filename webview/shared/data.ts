/** Checks the data a view is given before drawing it, and turns a profile into CSV. */
import type { RunRecord, ScaleKVProfile } from '../../src/shared/types';

export function validateProfileShape(p: unknown): ScaleKVProfile {
  const x = p as ScaleKVProfile;
  if (!x || typeof x !== 'object') throw new Error('the profile is not an object');
  if (x.format !== 'scalekv-profile') throw new Error(`not a ScaleKV profile (format is ${JSON.stringify(x.format)})`);
  if (!x.model || !Number.isInteger(x.model.depth) || x.model.depth <= 0) throw new Error('the profile has no model depth');
  if (!Array.isArray(x.scales) || !x.scales.length) throw new Error('the profile has no scales');
  x.scales.forEach((s, i) => {
    if (!s || !Array.isArray(s.roles) || s.roles.length !== x.model.depth) throw new Error(`scale ${i} does not list a role for each of the ${x.model.depth} layers`);
    if (!s.shape || !Number.isInteger(s.shape.h)) throw new Error(`scale ${i} has no token-map shape`);
  });
  return x;
}

export function validateRunShape(r: unknown): RunRecord {
  const x = r as RunRecord;
  if (!x || typeof x !== 'object' || x.format !== 'scalekv-run') throw new Error('not a ScaleKV run record');
  if (!Array.isArray(x.schedule) || !x.kv || !Array.isArray(x.kv.perScale)) throw new Error('the run record has no schedule or KV report');
  if (x.profile) validateProfileShape(x.profile);
  return x;
}

export function gridCsv(p: ScaleKVProfile): string {
  const lines = ['layer,scale,h,w,compressed,role,budget,cumulative_tokens,asi'];
  p.scales.forEach((s) =>
    s.roles.forEach((role, l) => {
      const budget = s.compressed ? (role === 'drafter' ? s.drafterBudget : s.refinerBudget) : s.cumulativeTokens;
      lines.push([l, s.scaleIndex, s.shape.h, s.shape.w, s.compressed, s.compressed ? role : 'full', budget, s.cumulativeTokens, s.asi ? s.asi[l] : ''].join(','));
    }),
  );
  return lines.join('\n') + '\n';
}
