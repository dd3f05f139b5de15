/**
 * The one place onnxruntime sessions are made: every graph the engine runs (probe, text encoder,
 * transformer blocks, fused scale steps, VAE, weight uploads) gets its provider, optimisation level,
 * memory arena and log level here, so a setting or an environment switch applies to all of them alike.
 */
// before onnxruntime-node: in a process started with SCALEKV_ORT_BINDING_DIR it picks the binding
import './ortBinding';
import * as ort from 'onnxruntime-node';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ExecutionProvider } from '../shared/types';
import { threadOptions } from './cpuThreads';

/**
 * A graph a provider could not build or run. It names the graph and the provider, so the engine can
 * run the job again on the next provider (engine/modelCache.ts) and tell the user what failed.
 */
export class GraphRunError extends Error {
  constructor(
    readonly graph: string,
    readonly provider: ExecutionProvider,
    readonly stage: 'build' | 'run',
    readonly reason: string,
  ) {
    super(`${provider} could not ${stage} the ${graph} graph: ${reason}`);
    this.name = 'GraphRunError';
  }
}

/**
 * A session for a serialized ONNX model on one provider. Failures to build or run it come back as a
 * GraphRunError that names `label`.
 * @param deviceOutputs outputs left on the GPU between runs (WebGPU only; other providers return host tensors)
 */
export async function createSession(
  model: Uint8Array,
  ep: ExecutionProvider,
  label: string,
  deviceOutputs: string[] = [],
): Promise<ort.InferenceSession> {
  let s: ort.InferenceSession;
  // the options decide whether this session profiles (SCALEKV_ORT_PROFILE is read once, there)
  const options = sessionOptions(ep, deviceOutputs, label);
  if (options.profileFilePrefix) mkdirSync(dirname(options.profileFilePrefix), { recursive: true });
  try {
    s = await ort.InferenceSession.create(model, options);
  } catch (e) {
    throw new GraphRunError(label, ep, 'build', errorText(e));
  }
  const run = s.run.bind(s) as (...a: unknown[]) => Promise<ort.InferenceSession.ReturnType>;
  // every caller runs through here, so every failed run names its graph
  s.run = async (...a: unknown[]) => {
    try {
      return await run(...a);
    } catch (e) {
      throw new GraphRunError(label, ep, 'run', errorText(e));
    }
  };
  if (options.enableProfiling) {
    // onnxruntime writes a session's profile only when asked to end it, so every release asks first
    const release = s.release.bind(s);
    s.release = async () => {
      try {
        s.endProfiling();
      } catch {
        // a profile that cannot be written must not keep the session's memory
      }
      return release();
    };
  }
  return s;
}

/**
 * Lets go of the device outputs a session still holds from its last run. onnxruntime-node 1.30 runs a
 * session that has 'gpu-buffer' outputs through one IoBinding per session, which keeps the last run's
 * outputs until the session runs again: disposing the returned tensors frees nothing, so every scale's
 * graph kept the KV cache it made long after the next scale had read it (8 GiB of Infinity-2B's full
 * cache at 1024x1024, bench/gpu.md). The binding offers no way to clear it, but binding every output
 * anew is the first thing a run does; a run whose feeds have the wrong element type then fails ORT's
 * input validation before any kernel is queued, and the session stays usable. Inputs named in `device`
 * are fed those tensors (live device tensors bind without a copy; never pass disposed ones), every other
 * input a one-element host tensor of the wrong type. Returns false if the run unexpectedly did not fail
 * validation (nothing ran on stale inputs either way: every input is bound to the new feeds), and
 * without running when SCALEKV_KEEP_OUTPUTS=1 keeps the outputs bound, for measurements.
 */
export async function releaseDeviceOutputs(s: ort.InferenceSession, device: Record<string, ort.Tensor> = {}): Promise<boolean> {
  if (process.env.SCALEKV_KEEP_OUTPUTS === '1') return false;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of s.inputNames) feeds[name] = device[name] ?? WRONG_TYPE;
  try {
    await s.run(feeds);
    return false;
  } catch (e) {
    return /type/i.test(e instanceof Error ? e.message : String(e));
  }
}
const WRONG_TYPE = new ort.Tensor('bool', Uint8Array.of(0), [1]);

/**
 * SCALEKV_ORT_PROFILE=DIR: every session writes onnxruntime's profile (host time per node; on WebGPU also
 * the GPU time of every kernel, from timestamp queries) to DIR/<graph>_<time>.json when it is released.
 * bench/profile-summary.mjs adds them up per op. For measurements: profiling slows every run.
 */
export const PROFILE_ENV = 'SCALEKV_ORT_PROFILE';

/** a graph's label as a file name: "scale 9 (32x32)" -> "scale-9-32x32" */
export const profileName = (label: string) =>
  label
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80) || 'graph';

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function sessionOptions(ep: ExecutionProvider, gpuOutputs: string[] = [], label = ''): ort.InferenceSession.SessionOptions {
  // Without the arena, each run returns its temporaries instead of every scale's session keeping its own
  // peak-sized pool. Measured 2026-11-26 on the 2-core machine, infinity-shapes, ScaleKV 10%: at 0.25M (the
  // main job) the arena saves 0.7 s of system time of ~13 s CPU, same wall time, for +290 MB (0.55 -> 0.83
  // GB); at 1M it is 18% faster (29.8 -> 24.5 s) but holds 2.6 GB instead of 0.9. SCALEKV_CPU_ARENA=1
  // trades that memory for the speed.
  // The WebGPU provider's storage buffers are not cached: its default bucket cache keeps up to ~4.4 GB of
  // freed buffers for reuse (and rounds each buffer up to its bucket), so the card held 13.5 GiB instead
  // of 11.3 for ScaleKV 10% on 2B at 1024x1024, 2-3% faster (bench/gpu.md, fourth round). The first
  // session of a process fixes the mode for all of them, so every session asks for the same.
  // SCALEKV_WEBGPU_BUFFER_CACHE=bucket|lazyRelease|simple|disabled chooses another for measurements;
  // SCALEKV_WEBGPU_VALIDATION the provider's validation mode (disabled, wgpuOnly, basic, full)
  const webgpu: Record<string, unknown> = { name: 'webgpu', storageBufferCacheMode: process.env.SCALEKV_WEBGPU_BUFFER_CACHE || 'disabled' };
  const validation = process.env.SCALEKV_WEBGPU_VALIDATION;
  if (validation) webgpu.validationMode = validation;
  // SCALEKV_WEBGPU_FP32_ACCUMULATION=1: float16 MatMul accumulating in float32, where the provider has it
  if (process.env.SCALEKV_WEBGPU_FP32_ACCUMULATION === '1') webgpu.enableMatmulFp32Accumulation = true;
  const provider = ep === 'webgpu' ? (webgpu as unknown as ort.InferenceSession.ExecutionProviderConfig) : ep;
  // SCALEKV_CPU_THREADS=N: intra-op threads on the CPU provider (cpuThreads.ts)
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    enableCpuMemArena: process.env.SCALEKV_CPU_ARENA === '1',
    ...threadOptions(ep),
  };
  // WebGPU sessions plan no memory pattern: each of the 13 scale graphs otherwise keeps a block sized for
  // its own peak, and the card held 16.8 GiB instead of 13.2 (ScaleKV 10%, 2B, 1024x1024) at the same
  // speed (bench/gpu.md). SCALEKV_ORT_MEM_PATTERN=1 turns it back on for measurements.
  if (ep === 'webgpu' && process.env.SCALEKV_ORT_MEM_PATTERN !== '1') o.enableMemPattern = false;
  // SCALEKV_ORT_LOG=0 prints onnxruntime's verbose log, including which provider runs each node
  const log = process.env.SCALEKV_ORT_LOG;
  if (log !== undefined && /^[0-4]$/.test(log)) o.logSeverityLevel = Number(log) as 0 | 1 | 2 | 3 | 4;
  if (ep === 'webgpu') {
    const extra = webgpuConfigEntries(process.env.SCALEKV_WEBGPU_CONFIG);
    if (Object.keys(extra).length) o.extra = extra;
  }
  const profileDir = process.env[PROFILE_ENV];
  if (profileDir) {
    o.enableProfiling = true;
    o.profileFilePrefix = join(profileDir, profileName(label));
  }
  if (ep === 'webgpu' && gpuOutputs.length) {
    // keep hidden states and KV caches on the device between runs; read small results on the CPU
    o.preferredOutputLocation = Object.fromEntries(gpuOutputs.map((n) => [n, 'gpu-buffer']));
  }
  return o;
}

/**
 * SCALEKV_WEBGPU_CONFIG="maxNumPendingDispatches=256,enableInt64=1": provider settings the Node binding's
 * option list does not carry, passed as the session config entries the provider reads them from
 * (ep.webgpuexecutionprovider.<key>). For measurements on the GPU machine.
 */
export function webgpuConfigEntries(spec: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (spec ?? '').split(',')) {
    const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*([^,]*?)\s*$/.exec(part);
    if (m) out[`ep.webgpuexecutionprovider.${m[1]}`] = m[2];
  }
  return out;
}
