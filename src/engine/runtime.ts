/**
 * Chooses the onnxruntime execution provider: the user's setting, or for 'auto' cuda -> webgpu -> cpu.
 * A provider counts as available only once a probe session actually runs on it, and the reason for
 * the final choice is reported to the user (e.g. "cuda: not installed with this onnxruntime-node").
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// before onnxruntime-node: in a process started with SCALEKV_ORT_BINDING_DIR it picks the binding
import { bindingOverride } from './ortBinding';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../kernels/onnx/graph';
import { ScaleKVError } from '../shared/errors';
import { createSession, GraphRunError } from './sessions';
import type { ExecutionProvider, ProviderInfo, ProviderSetting } from '../shared/types';

const ORDER: ExecutionProvider[] = ['cuda', 'webgpu', 'cpu'];

function probeModel(): Uint8Array {
  const g = new Graph('probe');
  const x = g.input('x', 'float32', [2, 2]);
  g.outputAs(g.matmul(x, g.constF([1, 2, 3, 4], [2, 2])), 'y');
  return g.toBytes();
}

async function works(ep: ExecutionProvider): Promise<string | null> {
  try {
    // the probe runs with the options every real session gets, so it finds what they would
    const s = await createSession(probeModel(), ep, 'probe');
    const r = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1]), [2, 2]) });
    const y = r.y.data as Float32Array;
    await s.release();
    if (y[0] !== 1 || y[3] !== 4) return `${ep}: probe computed a wrong result`;
    return null;
  } catch (e) {
    return `${ep}: ${plainError(e instanceof GraphRunError ? e.reason : e instanceof Error ? e.message : String(e))}`;
  }
}

/**
 * onnxruntime's errors start with its source location, function and the failed check; the sentence
 * after "was false." is the one a user can act on (e.g. "Failed to get a WebGPU adapter: No supported
 * adapters"), and the sidebar shows the reason in a narrow column.
 */
export function plainError(message: string): string {
  const first = message.split('\n')[0];
  const after = /was false\.\s*(.+)$/.exec(first);
  const s = (after ? after[1] : first.replace(/^\S*onnxruntime\S*:\d+\s+/, '')).trim();
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

const VULKAN_LOADER = 'libvulkan.so.1';

/**
 * Whether Linux can load the Vulkan loader that WebGPU (Dawn) needs. Without it Dawn prints a
 * "Couldn't load Vulkan" warning straight to the process's stderr before failing; looking first keeps
 * stderr clean, and the fallback reason says the same thing.
 */
export function vulkanLoaderFound(env: NodeJS.ProcessEnv = process.env, ldCache = '/etc/ld.so.cache'): boolean {
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/lib64',
    '/lib',
    '/usr/local/lib',
  ];
  if (dirs.some((d) => existsSync(join(d, VULKAN_LOADER)))) return true;
  try {
    return readFileSync(ldCache).includes(VULKAN_LOADER);
  } catch {
    return false;
  }
}

/** Vulkan drivers that run on the CPU (Mesa's lavapipe, SwiftShader), as globs over their manifests' file names */
const SOFTWARE_VULKAN = ['*lvp_icd*', '*swiftshader*'];
export const SOFTWARE_GPU_ENV = 'SCALEKV_SOFTWARE_GPU';

/** Whether Linux shows a GPU: a DRM render node (Mesa's hardware drivers), NVIDIA's device or WSL's */
export function gpuDeviceFound(dev = '/dev'): boolean {
  if (existsSync(join(dev, 'nvidia0')) || existsSync(join(dev, 'dxg'))) return true;
  try {
    return readdirSync(join(dev, 'dri')).some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * Keeps WebGPU off software Vulkan drivers, which Dawn takes when they are the only device: Mesa's
 * lavapipe, installed on most Linux desktops, drew the main job's 512x512 image in 93-141 s on 2
 * cores where the CPU provider takes about 13 s, so 'auto' would have chosen a slower provider on every
 * machine without a GPU. Without a GPU device node WebGPU is not tried (the reason, for the fallback
 * message); with one, the Vulkan loader is told to pass the software drivers over
 * (VK_LOADER_DRIVERS_DISABLE, Vulkan loader 1.3.234 and later) so Dawn finds the GPU.
 * SCALEKV_SOFTWARE_GPU=1 allows them (the tests run WebGPU's kernels on lavapipe).
 */
export function keepOffSoftwareVulkan(env: NodeJS.ProcessEnv = process.env, dev = '/dev'): string | null {
  if (env[SOFTWARE_GPU_ENV] === '1') return null;
  if (!gpuDeviceFound(dev))
    return `webgpu: no GPU on this machine (no /dev/dri render node, /dev/nvidia0 or /dev/dxg); a software Vulkan driver would be slower than the CPU (${SOFTWARE_GPU_ENV}=1 uses one)`;
  const listed = (env.VK_LOADER_DRIVERS_DISABLE ?? '').split(',').filter(Boolean);
  env.VK_LOADER_DRIVERS_DISABLE = [...listed, ...SOFTWARE_VULKAN.filter((g) => !listed.includes(g))].join(',');
  return null;
}

/** a provider this engine stopped using for a model, and why (engine/modelCache.ts) */
export interface ProviderSkip {
  provider: ExecutionProvider;
  why: string;
}

/** @param skip providers that already failed a model's graphs: passed over, their reasons reported */
export async function chooseProvider(setting: string, skip: ProviderSkip[] = []): Promise<ProviderInfo> {
  if (setting !== 'auto' && !ORDER.includes(setting as ExecutionProvider)) {
    throw new ScaleKVError('E_PROVIDER_UNKNOWN', `Unknown execution provider '${setting}'. Use one of: auto, ${ORDER.join(', ')}.`);
  }
  const wanted =
    setting === 'auto'
      ? ORDER
      : [
          setting as ExecutionProvider,
          ...ORDER.filter((e) => e !== setting && ORDER.indexOf(e) > ORDER.indexOf(setting as ExecutionProvider)),
        ];
  const failures: string[] = skip.map((x) => x.why);
  const bundled = new Map((ort.listSupportedBackends?.() ?? []).map((b: { name: string; bundled: boolean }) => [b.name, b.bundled]));
  for (const ep of wanted.filter((e) => !skip.some((x) => x.provider === e))) {
    // the CUDA provider is never in the npm package; "Install CUDA Provider" puts it beside a copy of the binding
    const installed = ep === 'cuda' && bindingOverride.dir !== undefined;
    if (ep !== 'cpu' && bundled.get(ep) === false && !installed) {
      const broken = ep === 'cuda' && bindingOverride.error ? `; the installed one did not load (${bindingOverride.error})` : '';
      failures.push(`${ep}: not installed with this onnxruntime-node (run ScaleKV: Install CUDA Provider)${broken}`);
      continue;
    }
    if (ep === 'webgpu' && process.platform === 'linux' && !vulkanLoaderFound()) {
      failures.push(`webgpu: no Vulkan loader (${VULKAN_LOADER}) on this machine`);
      continue;
    }
    const software = ep === 'webgpu' && process.platform === 'linux' ? keepOffSoftwareVulkan() : null;
    if (software) {
      failures.push(software);
      continue;
    }
    const why = await works(ep);
    if (!why) {
      const reason =
        failures.length === 0
          ? setting === 'auto'
            ? `${ep}: first available provider`
            : `${ep}: as requested`
          : `fell back to ${ep} because ${failures.join('; ')}`;
      return { requested: setting as ProviderSetting, used: ep, reason };
    }
    // onnxruntime says only "Failed to load shared library": name what the installed provider needs
    failures.push(installed ? `${why} (the CUDA provider in ${bindingOverride.dir} needs CUDA 12 and cuDNN on the system)` : why);
  }
  throw new ScaleKVError('E_PROVIDER_FAILED', `No execution provider could run: ${failures.join('; ')}`);
}
