/**
 * The engine process. The extension host forks it (src/engine/client.ts) so that onnxruntime, with its
 * native code and gigabytes of buffers, can crash or run out of memory without taking VS Code's
 * extension host with it. Messages are typed in ./protocol.ts, from EngineApi.
 */
import { toErrorInfo } from '../shared/errors';
import type { Progress } from '../shared/types';
import { createEngine } from './engine';
import { dispatch, type EngineEvent, type EngineHandlers, type EngineRequest } from './protocol';

const engine = createEngine();
const jobs = new Map<number, AbortController>();

/** what goes back over the channel: generate's images and bits stay in this process */
const handlers: EngineHandlers = {
  generate: async (req, ctx) => {
    const { run, runPath } = await engine.generate(req, ctx);
    return { run, runPath };
  },
  calibrate: async (req, ctx) => {
    const { profile, profilePath } = await engine.calibrate(req, ctx);
    return { profile, profilePath };
  },
  compare: (req, ctx) => engine.compare(req, ctx),
  describeModel: (req, ctx) => engine.describeModel(req, ctx),
};

function send(e: EngineEvent): void {
  process.send?.(e);
}

process.on('message', async (m: EngineRequest) => {
  if (m.type === 'shutdown') {
    for (const c of jobs.values()) c.abort();
    await engine.dispose().catch(() => undefined);
    process.exit(0);
  }
  if (m.type === 'cancel') {
    jobs.get(m.id)?.abort();
    return;
  }
  const ac = new AbortController();
  jobs.set(m.id, ac);
  const ctx = {
    signal: ac.signal,
    onProgress: (progress: Progress) => send({ type: 'progress', id: m.id, progress }),
    log: (level: 'info' | 'warn' | 'error', message: string) => send({ type: 'log', level, message }),
  };
  try {
    send({ type: 'result', id: m.id, result: await dispatch(handlers, m.type, m.request, ctx) });
  } catch (e) {
    send({ type: 'error', id: m.id, error: toErrorInfo(e) });
  } finally {
    jobs.delete(m.id);
  }
});

// the host going away (window closed, extension host restarted) must not leave an orphan computing
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
