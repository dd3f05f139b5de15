/**
 * SCALEKV_CPU_THREADS=N: onnxruntime's intra-op threads for sessions on the CPU provider. By default
 * onnxruntime uses every core; several engine processes side by side (a sharded evaluation) then
 * oversubscribe the machine, so each asks for a few threads instead.
 */
import type * as ort from 'onnxruntime-node';
import { ScaleKVError } from '../shared/errors';

export const CPU_THREADS_ENV = 'SCALEKV_CPU_THREADS';

/** the intra-op thread count for a CPU session, or undefined for onnxruntime's default */
export function cpuThreads(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[CPU_THREADS_ENV];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new ScaleKVError('E_INVALID_REQUEST', `${CPU_THREADS_ENV} must be a whole number of threads from 1 to 1024, got '${v}'.`);
  }
  return n;
}

/** the session options that carry the thread count, for the CPU provider only */
type ThreadOptions = Pick<ort.InferenceSession.SessionOptions, 'intraOpNumThreads'>;

export function threadOptions(ep: string, env: NodeJS.ProcessEnv = process.env): ThreadOptions {
  const n = ep === 'cpu' ? cpuThreads(env) : undefined;
  return n === undefined ? {} : { intraOpNumThreads: n };
}
