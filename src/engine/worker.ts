/**
 * The engine process. The extension host forks it (src/engine/client.ts) so that onnxruntime, with its
 * native code and gigabytes of buffers, can crash or run out of memory without taking VS Code's
 * extension host with it. Messages are typed in ./protocol.ts, from EngineApi. Every job request is
 * acknowledged as it arrives ('accepted'), so the client knows which requests a dying engine never
 * started; a message that is not a request (null, an unknown type) is answered, never fatal.
 */
// first: it may choose which onnxruntime binding the engine loads (the CUDA provider's copy)
import './ortBinding';
import { ScaleKVError, toErrorInfo } from '../shared/errors';
import type { Progress } from '../shared/types';
import { createEngine } from './engine';
import { dispatch, ENGINE_METHODS, type EngineEvent, type EngineHandlers, type EngineRequest } from './protocol';

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
  evaluate: (req, ctx) => engine.evaluate(req, ctx),
  describeModel: (req, ctx) => engine.describeModel(req, ctx),
};

function send(e: EngineEvent): void {
  process.send?.(e);
}

function describe(m: unknown): string {
  if (m === null || typeof m !== 'object') return JSON.stringify(m) ?? String(m);
  const t = (m as { type?: unknown }).type;
  return t === undefined ? 'a message without a type' : `type ${JSON.stringify(t)}`;
}

async function handle(m: EngineRequest): Promise<void> {
  if (m.type === 'shutdown') {
    for (const c of jobs.values()) c.abort();
    await engine.dispose().catch(() => undefined);
    process.exit(0);
  }
  if (m.type === 'cancel') {
    jobs.get(m.id)?.abort();
    return;
  }
  send({ type: 'accepted', id: m.id });
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
}

process.on('message', (m: unknown) => {
  const type = m && typeof m === 'object' ? (m as { type?: unknown }).type : undefined;
  const id = m && typeof m === 'object' ? (m as { id?: unknown }).id : undefined;
  const known = type === 'shutdown' || ((type === 'cancel' || ENGINE_METHODS.includes(type as never)) && typeof id === 'number');
  if (!known) {
    const error = new ScaleKVError(
      'E_INVALID_REQUEST',
      `The engine cannot handle ${describe(m)}; it takes ${ENGINE_METHODS.join(', ')}, cancel and shutdown, each with a numeric id.`,
    );
    if (typeof id === 'number') send({ type: 'error', id, error: error.toInfo() });
    else send({ type: 'log', level: 'error', message: error.message });
    return;
  }
  handle(m as EngineRequest).catch((e) => send({ type: 'log', level: 'error', message: `engine: ${toErrorInfo(e).message}` }));
});

// the host going away (window closed, extension host restarted) must not leave an orphan computing
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
