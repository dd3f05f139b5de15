/**
 * Describing a model (Select Model, the sidebar) has a time limit like a cancelled run: past it the
 * request fails with E_TIMEOUT and a reason, the engine is told to stop, and the next request works.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { EngineClient } from '../../../src/engine/client';
import type { ScaleKVError } from '../../../src/shared/errors';

const worker = resolve(__dirname, '..', '..', '..', '..', 'test', 'unit', 'extension', 'fakeWorker.js');

test('a describe that never answers ends in E_TIMEOUT, and the engine is stopped and replaced', { timeout: 20000 }, async () => {
  const c = new EngineClient({ workerPath: worker, describeTimeoutMs: 200, cancelGraceMs: 200, env: { FAKE_IGNORE_CANCEL: '1' } });
  let err: ScaleKVError | undefined;
  try {
    await c.request('describeModel', { modelPath: 'hang', provider: 'cpu' });
  } catch (e) {
    err = e as ScaleKVError;
  }
  assert.equal(err?.code, 'E_TIMEOUT');
  assert.match(err.message, /Reading the model took longer than 200 ms and was stopped/);
  // the stuck engine ignores the cancel, so it is killed; the next request starts a fresh one
  for (let i = 0; i < 100 && c.starts === 1 && c.pid !== undefined; i++) await new Promise((r) => setTimeout(r, 50));
  const r = await c.request('describeModel', { modelPath: 'fine', provider: 'cpu' });
  assert.equal(r.model.name, 'fine', 'the fresh engine answered');
  assert.equal(c.starts, 2);
  c.dispose();
});

test('a describe that answers in time is not limited, and other requests get no limit by default', async () => {
  const c = new EngineClient({ workerPath: worker, describeTimeoutMs: 60000 });
  const r = await c.request('describeModel', { modelPath: 'quick', provider: 'cpu' });
  assert.equal(r.model.name, 'quick');
  c.dispose();
});
