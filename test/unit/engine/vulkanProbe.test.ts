/**
 * WebGPU is probed only where Linux can load the Vulkan loader (Dawn otherwise prints a warning
 * straight to stderr): the loader is found on LD_LIBRARY_PATH or in the linker cache, and not found
 * when neither has it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { vulkanLoaderFound } from '../../../src/engine/runtime';
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
