// Profiles: creation, JSON round trip, refusals (malformed, wrong format/version, wrong model).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ScaleKVError } from '../../../src/shared/errors';
import type { ProfileModelRef } from '../../../src/shared/types';
import { parseOfficialTable, validateOfficialTable } from '../../../src/scalekv/officialBudget';
import {
  checkProfileMatches,
  createProfile,
  loadProfileFor,
  parseProfile,
  profileFromOfficial,
  profileToOfficial,
  serializeProfile,
} from '../../../src/scalekv/profile';
import { syntheticProfile } from '../../../src/scalekv/syntheticProfile';
import { FIXTURES, SQUARE_SCHEDULE } from './helpers';

const MODEL: ProfileModelRef = { name: 'infinity-2b', depth: 32, numHeads: 16, headDim: 128, schedule: SQUARE_SCHEDULE };
const code = (c: string, re: RegExp) => (e: unknown) => e instanceof ScaleKVError && e.code === c && re.test(e.message);

test('a created profile serialises and parses back unchanged', () => {
  const roles = SQUARE_SCHEDULE.map((_, si) => Array.from({ length: 32 }, (_, l) => (l === si % 32 || l === 31 ? 'drafter' : 'refiner')));
  const p = createProfile({ model: MODEL, settings: { targetRatio: 0.1 }, roles, origin: 'test' });
  const back = parseProfile(serializeProfile(p), 'p.json');
  assert.deepEqual(back, p);
  assert.equal(back.scales[9].roles[9], 'drafter');
  // and converts to an official table that the official rules accept
  const t = profileToOfficial(p);
  assert.deepEqual(Object.keys(t), ['Scale 9', 'Scale 10', 'Scale 11', 'Scale 12', 'Scale 13']);
  assert.deepEqual(Object.keys(t['Scale 9']).slice(-4), ['High', 'Max', 'Min', 'Limit']);
  validateOfficialTable(t, 32, SQUARE_SCHEDULE);
});

test('malformed, foreign and wrong-version profiles are refused with E_PROFILE_INVALID', () => {
  const good = JSON.parse(serializeProfile(syntheticProfile(MODEL, 0.1)));
  assert.throws(() => parseProfile('{"format": "scalekv-profile",', 'p.json'), code('E_PROFILE_INVALID', /p\.json is not valid JSON/));
  assert.throws(
    () => parseProfile(readFileSync(join(FIXTURES, 'official-budgets', 'infinity-2b-10pct.json'), 'utf8'), 't.json'),
    code('E_PROFILE_INVALID', /"format" is undefined/),
  );
  assert.throws(() => parseProfile(JSON.stringify({ ...good, version: 2 }), 'p.json'), code('E_PROFILE_INVALID', /unsupported version 2/));
  const shortScales = { ...good, scales: good.scales.slice(0, 5) };
  assert.throws(
    () => parseProfile(JSON.stringify(shortScales), 'p.json'),
    code('E_PROFILE_INVALID', /one entry per scale of the schedule \(13\), got 5/),
  );
  const badBudget = structuredClone(good);
  badBudget.scales[9].refinerBudget = badBudget.scales[9].drafterBudget + 1;
  assert.throws(
    () => parseProfile(JSON.stringify(badBudget), 'p.json'),
    code('E_PROFILE_INVALID', /scales\[9\]: refiner budget \d+ exceeds drafter budget/),
  );
  const badRole = structuredClone(good);
  badRole.scales[3].roles[0] = 'writer';
  assert.throws(() => parseProfile(JSON.stringify(badRole), 'p.json'), code('E_PROFILE_INVALID', /scales\[3\]\.roles/));
});

test('a profile for another model is refused, saying what differs', () => {
  const p = syntheticProfile(MODEL, 0.1);
  assert.throws(
    () => checkProfileMatches(p, { ...MODEL, name: 'infinity-8b', depth: 40, numHeads: 24 }),
    code('E_PROFILE_MODEL_MISMATCH', /infinity-8b: 32 layers vs the model's 40; 16 heads vs the model's 24/),
  );
  const other = SQUARE_SCHEDULE.map((s, i) => (i === 6 ? { h: 20, w: 12 } : s));
  assert.throws(
    () => loadProfileFor(serializeProfile(p), { ...MODEL, schedule: other }, 'p.json'),
    code('E_PROFILE_MODEL_MISMATCH', /scale 6 is 16x16 in the profile but 20x12 for the model/),
  );
  assert.throws(
    () => checkProfileMatches(p, { ...MODEL, schedule: SQUARE_SCHEDULE.slice(0, 12) }),
    code('E_PROFILE_MODEL_MISMATCH', /13 scales ending at 64x64 vs the model's 12 scales ending at 48x48/),
  );
  assert.doesNotThrow(() => loadProfileFor(serializeProfile(p), MODEL));
});

test('an official table imported for the wrong model is refused', () => {
  const t = parseOfficialTable(readFileSync(join(FIXTURES, 'official-budgets', 'infinity-8b-10pct.json'), 'utf8'));
  assert.throws(
    () => profileFromOfficial(t, MODEL, '8b.json'),
    code('E_BUDGET_INVALID', /8b\.json: "Scale 9" lists 40 blocks, but the model has 32 layers/),
  );
});

test('profiles that compress before "Scale 9" cannot be exported to the official format', () => {
  const p = syntheticProfile(MODEL, 0.04);
  assert.ok(p.scales[5].compressed);
  assert.throws(() => profileToOfficial(p), code('E_BUDGET_INVALID', /compresses scale 5 \(12x12\)/));
});
