/**
 * The messages between the extension host (client.ts) and the engine process (worker.ts), derived
 * from EngineApi: a call names a method and carries its request; a result carries that method's
 * reply. Adding or changing a method in api.ts changes both ends here, and the worker's handlers are
 * checked per method against the reply type, so there is no second copy of the contract to keep.
 */
import type { ErrorInfo } from '../shared/errors';
import type { Progress } from '../shared/types';
import type { EngineApi, JobContext } from './api';

export type EngineMethod = keyof EngineApi;

/** what each method takes besides its job context (the engine process supplies that) */
export type EngineRequestOf = { [M in EngineMethod]: Parameters<EngineApi[M]>[0] };
/** what each method answers, as sent back over the channel */
export type EngineReplyOf = { [M in EngineMethod]: Awaited<ReturnType<EngineApi[M]>> };

/** The engine process's side: one handler per method, each typed by that method's reply. */
export type EngineHandlers = { [M in EngineMethod]: (request: EngineRequestOf[M], ctx: JobContext) => Promise<EngineReplyOf[M]> };

/** a call of one method (M a single method name, or the union of all of them) */
export type EngineCall<M extends EngineMethod = EngineMethod> = { [K in M]: { type: K; id: number; request: EngineRequestOf[K] } }[M];

// ---- host -> engine process ------------------------------------------------------------------

export type EngineRequest = EngineCall | { type: 'cancel'; id: number } | { type: 'shutdown' };

// a record, not a list, so that the compiler fails here when EngineApi gains or loses a method
const METHODS: Record<EngineMethod, true> = { generate: true, calibrate: true, compare: true, evaluate: true, describeModel: true };
/** the request types that start a job (the others are cancel and shutdown) */
export const ENGINE_METHODS = Object.keys(METHODS) as readonly EngineMethod[];

// ---- engine process -> host ------------------------------------------------------------------

export type EngineEvent =
  | { type: 'ready' }
  /** the engine process has received request id and starts it (a request never accepted can be sent again) */
  | { type: 'accepted'; id: number }
  | { type: 'progress'; id: number; progress: Progress }
  /** the reply of the call with this id (of that call's method) */
  | { type: 'result'; id: number; result: EngineReplyOf[EngineMethod] }
  | { type: 'error'; id: number; error: ErrorInfo }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

/** Runs one call on the handlers; the reply's type follows the method. */
export function dispatch<M extends EngineMethod>(
  handlers: EngineHandlers,
  method: M,
  request: EngineRequestOf[M],
  ctx: JobContext,
): Promise<EngineReplyOf[M]> {
  const handler: EngineHandlers[M] = handlers[method];
  return handler(request, ctx);
}
