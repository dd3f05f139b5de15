/**
 * The extension host's engine client against a stand-in engine process: results and progress arrive,
 * a crashing or aborting engine rejects pending requests with E_WORKER_CRASHED and the next request
 * gets a fresh process, cancellation answers at once, and an engine that ignores the cancel is killed.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { EngineClient, type CancelToken, type RequestOptions } from '../../../src/engine/client';
import type { GenerateRequest } from '../../../src/shared/types';
import type { ScaleKVError } from '../../../src/shared/errors';

const worker = resolve(__dirname, '..', '..', '..', '..', 'test', 'unit', 'extension', 'fakeWorker.js');

/** the stand-in engine answers a generate call with a run whose id is the prompt */
const gen = (c: EngineClient, prompt: string, opts?: RequestOptions) =>
  c.request('generate', { prompts: [prompt] } as GenerateRequest, opts);

function token(): CancelToken & { cancel(): void } {
  const cbs: (() => void)[] = [];
  const t = {
    isCancellationRequested: false,
    onCancellationRequested(cb: () => void) {
      cbs.push(cb);
    },
    cancel() {
      t.isCancellationRequested = true;
      cbs.forEach((c) => c());
    },
  };
  return t;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as ScaleKVError).code;
  }
  return 'resolved';
}

test('results and progress come back', async () => {
  const c = new EngineClient({ workerPath: worker });
  const seen: number[] = [];
  const r = await gen(c, 'hello', { onProgress: (p) => seen.push(p.fraction) });
  assert.equal(r.run.id, 'hello');
  assert.deepEqual(seen, [0.5]);
  c.dispose();
});

test('a crash or abort of the engine rejects with E_WORKER_CRASHED and the next request restarts it', async () => {
  const c = new EngineClient({ workerPath: worker });
  assert.equal(await code(gen(c, 'crash')), 'E_WORKER_CRASHED');
  assert.equal(await code(gen(c, 'abort')), 'E_WORKER_CRASHED');
  const r = await gen(c, 'after');
  assert.equal(r.run.id, 'after');
  assert.equal(c.starts, 3);
  c.dispose();
});

test('cancelling answers at once; an engine that ignores it is killed, and the client recovers', async () => {
  const c = new EngineClient({ workerPath: worker, cancelGraceMs: 200, env: { FAKE_IGNORE_CANCEL: '1' } });
  const t = token();
  const p = gen(c, 'slow', { token: t, onProgress: () => t.cancel() });
  assert.equal(await code(p), 'E_CANCELLED');
  await new Promise((r) => setTimeout(r, 600));
  const r = await gen(c, 'again');
  assert.equal(r.run.id, 'again');
  assert.equal(c.starts, 2, 'the stuck process was replaced');
  c.dispose();
});

test('a hung engine does not hang the caller: cancellation still settles the request', async () => {
  const c = new EngineClient({ workerPath: worker, cancelGraceMs: 100 });
  const t = token();
  const p = gen(c, 'hang', { token: t });
  setTimeout(() => t.cancel(), 50);
  const late = token();
  const q = gen(c, 'hang', { token: late });
  late.cancel(); // before the process has even answered
  // both settle in either order: each gets its handler now, or q's rejection would go unhandled while p waits
  const [pCode, qCode] = await Promise.all([code(p), code(q)]);
  assert.equal(pCode, 'E_CANCELLED');
  assert.equal(qCode, 'E_CANCELLED');
  c.dispose();
});

test('the real engine process reports a missing model as an error, not a crash', async () => {
  const c = new EngineClient({ workerPath: join(resolve(__dirname, '..', '..', '..', '..'), 'dist', 'worker.js') });
  const e = await code(c.request('describeModel', { modelPath: '/nonexistent/model', provider: 'cpu' }));
  assert.equal(e, 'E_CHECKPOINT_MISSING');
  const ok = await c.request('describeModel', { provider: 'cpu' });
  assert.equal(ok.model.source, 'embedded');
  assert.ok(ok.model.depth > 0 && ok.provider.used, "the reply is describeModel's own shape");
  c.dispose();
});

test('a request the engine died before accepting goes to a fresh engine once, then fails clearly', async () => {
  const c = new EngineClient({ workerPath: worker });
  assert.equal(await code(gen(c, 'unacked-crash')), 'E_WORKER_CRASHED');
  assert.equal(c.starts, 2, 'sent again once to a new engine, not forever');
  c.dispose();
});
