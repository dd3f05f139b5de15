/**
 * One set of defaults: the extension settings' fallbacks (what the code reads when the user set
 * nothing) equal package.json's contributes.configuration defaults, settings.ts reads every setting
 * with its fallback, and the manifest's enumerations are the code's lists.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { SETTING_DEFAULTS } from '../../../src/extension/settingDefaults';
import { RESOLUTIONS } from '../../../src/model/schedule';
import { DEFAULTS, PROVIDER_SETTINGS, QUERY_MODES } from '../../../src/shared/defaults';
import { baseRequest, calibrateRequest, policySpec } from '../../../src/shared/requests';
import { POLICY_NAMES } from '../../../src/shared/types';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const props: Record<string, { default: unknown; enum?: string[] }> = pkg.contributes.configuration.properties;

test('every setting falls back to the default package.json declares, and every contributed setting has a fallback', () => {
  const contributed = Object.keys(props)
    .map((k) => k.replace(/^scalekv\./, ''))
    .sort();
  assert.deepEqual(Object.keys(SETTING_DEFAULTS).sort(), contributed);
  for (const [k, v] of Object.entries(SETTING_DEFAULTS)) assert.deepEqual(v, props[`scalekv.${k}`].default, `scalekv.${k}`);
});

test('settings.ts reads each setting with its fallback from SETTING_DEFAULTS', () => {
  const src = readFileSync(join(ROOT, 'src', 'extension', 'settings.ts'), 'utf8');
  const reads = [...src.matchAll(/c\.get<[^>]+>\('([^']+)'(?:, ([^)]+))?\)/g)].map((m) => [m[1], m[2]]);
  assert.equal(reads.length, Object.keys(SETTING_DEFAULTS).length);
  for (const [key, fallback] of reads) assert.equal(fallback, `d.${key}`, `scalekv.${key} falls back to SETTING_DEFAULTS.${key}`);
});

test('the manifest enumerations are the code lists', () => {
  assert.deepEqual(props['scalekv.resolution'].enum, Object.keys(RESOLUTIONS));
  assert.deepEqual([...props['scalekv.defaultPolicy'].enum!].sort(), [...POLICY_NAMES].sort());
  assert.deepEqual(props['scalekv.executionProvider'].enum, [...PROVIDER_SETTINGS]);
  assert.deepEqual(props['scalekv.queryMode'].enum, [...QUERY_MODES]);
});

test('the request builder fills what a caller leaves out from DEFAULTS', () => {
  const b = baseRequest({ prompts: ['x'] });
  assert.deepEqual(
    {
      seed: b.seed,
      cfg: b.cfg,
      tau: b.tau,
      topK: b.topK,
      topP: b.topP,
      resolution: b.resolution,
      aspectRatio: b.aspectRatio,
      provider: b.provider,
    },
    {
      seed: DEFAULTS.seed,
      cfg: DEFAULTS.cfg,
      tau: DEFAULTS.tau,
      topK: DEFAULTS.topK,
      topP: DEFAULTS.topP,
      resolution: DEFAULTS.resolution,
      aspectRatio: DEFAULTS.aspectRatio,
      provider: DEFAULTS.provider,
    },
  );
  assert.equal(b.modelPath, undefined, 'an empty model path means the embedded model');
  const p = policySpec('snapkv', { profilePath: '/p.json' });
  assert.equal(p.profilePath, undefined, 'a policy that reads no profile is not given one');
  assert.equal(policySpec('scalekv', { profilePath: '/p.json' }).profilePath, '/p.json');
  assert.deepEqual(
    [p.ratio, p.windowSize, p.poolingKernel, p.queryMode],
    [DEFAULTS.ratio, DEFAULTS.windowSize, DEFAULTS.poolingKernel, DEFAULTS.queryMode],
  );
  const c = calibrateRequest({ prompts: [], outPath: '/o.json', ratio: 0.2 });
  assert.deepEqual(
    [c.targetRatio, c.resolution, c.windowSize, c.poolingKernel],
    [0.2, DEFAULTS.resolution, DEFAULTS.windowSize, DEFAULTS.poolingKernel],
  );
});
