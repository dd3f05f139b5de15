/**
 * WebGPU is probed only where Linux can load the Vulkan loader (Dawn otherwise prints a warning
 * straight to stderr): the loader is found on LD_LIBRARY_PATH or in the linker cache, and not found
 * when neither has it; and never on a software Vulkan driver unless asked, since one is slower than the CPU.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gpuDeviceFound, keepOffSoftwareVulkan, SOFTWARE_GPU_ENV, vulkanLoaderFound } from '../../../src/engine/runtime';
import { sessionOptions, webgpuConfigEntries } from '../../../src/engine/sessions';
import { tempDir, withEnv } from './helpers';

test('the Vulkan loader is found on LD_LIBRARY_PATH or in the linker cache', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  const lib = tempDir('vk');
  writeFileSync(join(lib, 'libvulkan.so.1'), '');
  assert.equal(vulkanLoaderFound({ LD_LIBRARY_PATH: `/nonexistent:${lib}` }, '/nonexistent/ld.so.cache'), true);
  const cache = join(tempDir('vkcache'), 'ld.so.cache');
  writeFileSync(cache, Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from('libvulkan.so.1\0/usr/lib/x/libvulkan.so.1\0')]));
  assert.equal(vulkanLoaderFound({}, cache), true);
});

test('without a loader anywhere it is not found', { skip: process.platform !== 'linux' && 'Linux only' }, (t) => {
  const cache = join(tempDir('vkcache'), 'ld.so.cache');
  writeFileSync(cache, 'libc.so.6\0libm.so.6\0');
  // the machine's own library folders are searched too: only meaningful where they hold no loader
  if (vulkanLoaderFound({}, cache)) return t.skip('this machine has a Vulkan loader in a standard folder');
  assert.equal(vulkanLoaderFound({ LD_LIBRARY_PATH: tempDir('empty') }, cache), false);
});

test("a GPU is a DRM render node, an NVIDIA device or WSL's; a card node alone or nothing is none", () => {
  const dev = (...files: string[]) => {
    const d = tempDir('dev');
    for (const f of files) {
      mkdirSync(join(d, f, '..'), { recursive: true });
      writeFileSync(join(d, f), '');
    }
    return d;
  };
  assert.equal(gpuDeviceFound(dev('dri/renderD128')), true);
  assert.equal(gpuDeviceFound(dev('nvidia0', 'nvidiactl')), true);
  assert.equal(gpuDeviceFound(dev('dxg')), true);
  assert.equal(gpuDeviceFound(dev('dri/card0')), false, 'a display-only node (no render node) runs no compute');
  assert.equal(gpuDeviceFound(dev()), false);
});

test('software Vulkan drivers: WebGPU is not tried without a GPU; beside one, the loader passes them over; allowed on request', () => {
  const noGpu = tempDir('dev');
  const gpu = tempDir('dev');
  mkdirSync(join(gpu, 'dri'));
  writeFileSync(join(gpu, 'dri', 'renderD128'), '');

  const bare: NodeJS.ProcessEnv = {};
  assert.match(keepOffSoftwareVulkan(bare, noGpu) ?? '', /^webgpu: no GPU on this machine .*SCALEKV_SOFTWARE_GPU=1/);
  assert.equal(bare.VK_LOADER_DRIVERS_DISABLE, undefined, 'nothing is set when WebGPU is not tried');

  const withGpu: NodeJS.ProcessEnv = { VK_LOADER_DRIVERS_DISABLE: '*nouveau*' };
  assert.equal(keepOffSoftwareVulkan(withGpu, gpu), null);
  assert.equal(withGpu.VK_LOADER_DRIVERS_DISABLE, '*nouveau*,*lvp_icd*,*swiftshader*', "the user's own globs are kept");
  keepOffSoftwareVulkan(withGpu, gpu);
  assert.equal(withGpu.VK_LOADER_DRIVERS_DISABLE, '*nouveau*,*lvp_icd*,*swiftshader*', 'asking twice adds nothing');

  const allowed: NodeJS.ProcessEnv = { [SOFTWARE_GPU_ENV]: '1' };
  assert.equal(keepOffSoftwareVulkan(allowed, noGpu), null);
  assert.equal(allowed.VK_LOADER_DRIVERS_DISABLE, undefined);
});

test('WebGPU provider settings the binding does not list become session config entries; odd parts are ignored', () => {
  assert.deepEqual(webgpuConfigEntries('maxNumPendingDispatches=256, enableInt64 = 1,bad,=3,x y=2'), {
    'ep.webgpuexecutionprovider.maxNumPendingDispatches': '256',
    'ep.webgpuexecutionprovider.enableInt64': '1',
  });
  assert.deepEqual(webgpuConfigEntries(undefined), {});
});

test('WebGPU sessions plan no memory pattern unless asked; CPU sessions keep the default', () => {
  withEnv('SCALEKV_ORT_MEM_PATTERN', () => {
    delete process.env.SCALEKV_ORT_MEM_PATTERN;
    assert.equal(sessionOptions('webgpu').enableMemPattern, false);
    assert.equal(sessionOptions('cpu').enableMemPattern, undefined);
    process.env.SCALEKV_ORT_MEM_PATTERN = '1';
    assert.equal(sessionOptions('webgpu').enableMemPattern, undefined);
  });
});

test('WebGPU sessions ask for no storage-buffer cache unless SCALEKV_WEBGPU_BUFFER_CACHE names one; CPU sessions name only the provider', () => {
  const provider = (ep: 'webgpu' | 'cpu') => sessionOptions(ep).executionProviders![0];
  withEnv('SCALEKV_WEBGPU_BUFFER_CACHE', () => {
    delete process.env.SCALEKV_WEBGPU_BUFFER_CACHE;
    assert.deepEqual(provider('webgpu'), { name: 'webgpu', storageBufferCacheMode: 'disabled' });
    process.env.SCALEKV_WEBGPU_BUFFER_CACHE = 'bucket';
    assert.deepEqual(provider('webgpu'), { name: 'webgpu', storageBufferCacheMode: 'bucket' });
    assert.equal(provider('cpu'), 'cpu');
  });
});

test('CPU sessions run without the memory arena unless SCALEKV_CPU_ARENA=1 asks for it', () => {
  withEnv('SCALEKV_CPU_ARENA', () => {
    delete process.env.SCALEKV_CPU_ARENA;
    assert.equal(sessionOptions('cpu').enableCpuMemArena, false);
    process.env.SCALEKV_CPU_ARENA = '1';
    assert.equal(sessionOptions('cpu').enableCpuMemArena, true);
    process.env.SCALEKV_CPU_ARENA = 'yes';
    assert.equal(sessionOptions('cpu').enableCpuMemArena, false, 'only 1 turns it on');
  });
});
