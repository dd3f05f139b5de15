/**
 * One request at a time per loaded model, with the real engine process (dist/worker.js) and the
 * tiny model: describing another model while a generate runs waits its turn instead of disposing the
 * generate's sessions; a request sent right after an idle engine was killed starts a new one; a null
 * message or an unknown request type is answered and the engine keeps working. JobQueue's own rules
 * (order, a cancelled waiter leaves at once) are checked without a process.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { EngineClient } from '../../../src/engine/client';
import { JobQueue } from '../../../src/engine/jobQueue';
import type { ScaleKVError } from '../../../src/shared/errors';
import type { EngineEvent } from '../../../src/engine/protocol';
import type { Progress } from '../../../src/shared/types';
import { request, TINY } from './helpers';

const WORKER = join(resolve(__dirname, '..', '..', '..', '..'), 'dist', 'worker.js');

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as ScaleKVError).code;
  }
  return 'resolved';
}

test('describing another model during a generate waits for it; both succeed', async () => {
  const c = new EngineClient({ workerPath: WORKER });
  try {
    const stages: Progress[] = [];
    let describeDone = false;
    let describeFinishedMidGenerate = false;
    let scalesAfterDescribeSent = 0;
    // set inside a callback, so the compiler must not narrow it to null
    let describe = null as Promise<unknown> | null;
    const gen = c.request('generate', request({ resolution: '0.06M', prompts: ['a lighthouse'] }), {
      onProgress: (p) => {
        stages.push(p);
        // the generate is computing: ask for another model (the same files under another key)
        if (p.stage === 'scale' && p.scaleIndex === 1 && !describe)
          describe = c.request('describeModel', { modelPath: TINY + '/', provider: 'cpu' }).then((r) => ((describeDone = true), r));
        else if (describe && p.stage === 'scale') {
          scalesAfterDescribeSent++;
          if (describeDone) describeFinishedMidGenerate = true;
        }
      },
    });
    const r = await gen;
    assert.equal(r.run.images.length, 1, 'the generate answered with its run');
    assert.ok(describe, 'the describe was sent mid-generate');
    assert.ok(scalesAfterDescribeSent > 0, 'the generate kept computing after the describe arrived');
    assert.equal(describeFinishedMidGenerate, false, 'the describe waited for the generate');
    const d = await describe;
    assert.ok((d as { model: { depth: number } }).model.depth > 0, 'the describe answered with the model');
    assert.equal(c.starts, 1, 'no engine crash');
  } finally {
    c.dispose();
  }
});

test('a request right after an idle engine was killed starts a new engine', async () => {
  const c = new EngineClient({ workerPath: WORKER });
  try {
    assert.ok((await c.request('describeModel', { provider: 'cpu' })).model.depth > 0);
    process.kill(c.pid!, 'SIGKILL');
    // no await between the kill and the request: the client has not yet heard of the exit
    const r = await c.request('describeModel', { provider: 'cpu' });
    assert.ok(r.model.depth > 0);
    assert.equal(c.starts, 2);
  } finally {
    c.dispose();
  }
});

test('a null message and an unknown request type are answered; the engine keeps working', async () => {
  const c = new EngineClient({ workerPath: WORKER });
  try {
    assert.ok((await c.request('describeModel', { provider: 'cpu' })).model.depth > 0);
    const child = (c as unknown as { child: ChildProcess }).child;
    const events: EngineEvent[] = [];
    child.on('message', (m: EngineEvent) => events.push(m));
    const pid = c.pid;
    child.send(null as never);
    child.send({ type: 'paint', id: 9999 });
    child.send({ type: 'generate' }); // no id
    assert.equal(await code(c.request('frobnicate' as never, {} as never)), 'E_INVALID_REQUEST');
    await new Promise((r) => setTimeout(r, 100));
    const unknown = events.find((e) => e.type === 'error' && e.id === 9999);
    assert.ok(unknown && unknown.type === 'error' && /paint/.test(unknown.error.message), JSON.stringify(events));
    assert.ok(
      events.some((e) => e.type === 'log' && /null/.test(e.message)),
      'the null message is reported in the log',
    );
    assert.ok((await c.request('describeModel', { provider: 'cpu' })).model.depth > 0);
    assert.equal(c.pid, pid, 'the same engine process answered');
    assert.equal(c.starts, 1);
  } finally {
    c.dispose();
  }
});

test('JobQueue: jobs run in order, one at a time; a cancelled waiter leaves at once', async () => {
  const q = new JobQueue();
  const log: string[] = [];
  let release!: () => void;
  const first = q.run(async () => {
    log.push('1 start');
    await new Promise<void>((r) => (release = r));
    log.push('1 end');
  });
  let waited = 0;
  const ac = new AbortController();
  const cancelled = q.run(async () => log.push('never'), { signal: ac.signal, onWait: () => waited++ });
  const third = q.run(async () => log.push('3'));
  assert.equal(waited, 1);
  assert.equal(q.size, 3);
  ac.abort();
  assert.equal(await code(cancelled), 'E_CANCELLED');
  assert.deepEqual(log, ['1 start'], 'the third job still waits for the first');
  release();
  await Promise.all([first, third]);
  assert.deepEqual(log, ['1 start', '1 end', '3']);
  assert.equal(q.size, 0);
});
