/**
 * Shared set-up for engine tests: the random tiny model (built by test/run.mjs; bit-exact and fast, so the
 * engine tests name it rather than the trained default) and temp folders.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tinyModelDir } from '../../../src/engine/loadModel';
import { chooseProvider, SOFTWARE_GPU_ENV } from '../../../src/engine/runtime';
import type { JobContext } from '../../../src/engine/api';
import type { GenerateRequest, Progress } from '../../../src/shared/types';

export const TINY = tinyModelDir();

const made: string[] = [];
// every test file runs in its own process: its temp folders go when it exits, passed or failed
process.on('exit', () => {
  for (const d of made) {
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // a child process still writing there; the OS temp cleaner gets it
    }
  }
});

/** sets the environment variable to value, or unsets it for undefined */
function setEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** runs f (synchronous), then puts the environment variable back as it was, set or unset */
export function withEnv<T>(name: string, f: () => T): T {
  const before = process.env[name];
  try {
    return f();
  } finally {
    setEnv(name, before);
  }
}

/** runs f with the environment variable set to value (undefined: unset), then puts it back as it was */
export async function withEnvAsync<T>(name: string, value: string | undefined, f: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  setEnv(name, value);
  try {
    return await f();
  } finally {
    setEnv(name, before);
  }
}

/** a fresh folder under the temp dir, removed when the test process exits */
export function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `scalekv-${name}-`));
  made.push(d);
  return d;
}

export function ctx(onProgress?: (p: Progress) => void, signal?: AbortSignal): JobContext {
  return { onProgress: onProgress ?? (() => {}), signal: signal ?? new AbortController().signal };
}

export function request(over: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    modelPath: TINY,
    prompts: ['a red apple on a wooden table'],
    seed: 3,
    aspectRatio: 1,
    resolution: '0.06M',
    cfg: 3,
    tau: 1,
    topK: 900,
    topP: 0.97,
    policy: { name: 'full' },
    provider: 'cpu',
    outDir: tempDir('run'),
    recordRetention: true,
    ...over,
  };
}

let webgpu: Promise<string | null> | null = null;
/**
 * A test of the WebGPU provider's own kernels, which run here on Mesa's software Vulkan driver (lavapipe,
 * installed by test/setup.mjs; the engine passes it over unless SCALEKV_SOFTWARE_GPU=1, which this sets
 * for the test file's process). Outside CI a machine without a WebGPU adapter skips it; in CI it must run.
 */
export function webgpuTest(name: string, fn: () => Promise<void>): void {
  test(name, async (t) => {
    process.env[SOFTWARE_GPU_ENV] = '1';
    webgpu ??= chooseProvider('webgpu').then((i) =>
      i.used === 'webgpu' ? null : `no WebGPU adapter here (${i.reason}); test/setup.mjs installs Mesa's lavapipe`,
    );
    const why = await webgpu;
    if (why && !process.env.CI) return t.skip(why);
    await fn();
  });
}
