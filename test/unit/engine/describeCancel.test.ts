/** Describing a model takes the same cancel signal as a run: an abort stops it between files. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEngine } from '../../../src/engine/engine';
import type { ScaleKVError } from '../../../src/shared/errors';
import { ctx, TINY } from './helpers';

test('describeModel stops with E_CANCELLED when its signal is aborted, and works after', async () => {
  const engine = createEngine();
  const ac = new AbortController();
  const p = engine.describeModel({ modelPath: TINY, provider: 'cpu' }, ctx(undefined, ac.signal));
  ac.abort();
  await assert.rejects(p, (e: ScaleKVError) => e.code === 'E_CANCELLED');
  const r = await engine.describeModel({ modelPath: TINY, provider: 'cpu' }, ctx());
  assert.equal(r.model.name, 'infinity-tiny');
  await engine.dispose();
});
