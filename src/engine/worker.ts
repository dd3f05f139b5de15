/**
 * The engine process. The extension host forks it (src/engine/client.ts) so that onnxruntime, with its
 * native code and gigabytes of buffers, can crash or run out of memory without taking VS Code's
 * extension host with it. Messages are typed in src/shared/protocol.ts.
 */
// first: it may choose which onnxruntime binding the engine loads (the CUDA provider's copy)
import './ortBinding';
import { toErrorInfo } from '../shared/errors';
import type { EngineEvent, EngineRequest } from '../shared/protocol';
import type { Progress } from '../shared/types';
import { createEngine } from './engine';

const engine = createEngine();
const jobs = new Map<number, AbortController>();

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
    switch (m.type) {
      case 'generate': {
        const r = await engine.generate(m.request, ctx);
        send({ type: 'result', id: m.id, result: { kind: 'generate', run: r.run, runPath: r.runPath } });
        break;
      }
      case 'calibrate': {
        const r = await engine.calibrate(m.request, ctx);
        send({ type: 'result', id: m.id, result: { kind: 'calibrate', profile: r.profile, profilePath: r.profilePath } });
        break;
      }
      case 'compare': {
        const r = await engine.compare(m.request, ctx);
        send({ type: 'result', id: m.id, result: { kind: 'compare', result: r } });
        break;
      }
      case 'describeModel': {
        const r = await engine.describeModel(m.modelPath, m.provider);
        send({ type: 'result', id: m.id, result: { kind: 'describeModel', model: r.model, provider: r.provider } });
        break;
      }
    }
  } catch (e) {
    send({ type: 'error', id: m.id, error: toErrorInfo(e) });
  } finally {
    jobs.delete(m.id);
  }
});

// the host going away (window closed, extension host restarted) must not leave an orphan computing
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
