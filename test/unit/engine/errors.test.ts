/**
 * Failures from native code reach the user as actionable errors: out-of-memory messages from the CPU
 * allocator, CUDA and Dawn/Vulkan become E_OOM with what to try next; anything else stays E_INTERNAL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScaleKVError, toErrorInfo } from '../../../src/shared/errors';

test('out-of-memory failures from every provider become E_OOM with a suggestion', () => {
  for (const msg of [
    'std::bad_alloc',
    'Failed to allocate memory for requested buffer of size 4294967296',
    'CUDA failure 2: out of memory',
    'VK_ERROR_OUT_OF_DEVICE_MEMORY while creating a buffer',
  ]) {
    const info = toErrorInfo(new Error(msg));
    assert.equal(info.code, 'E_OOM', msg);
    assert.match(info.message, /smaller resolution/);
    assert.match(info.message, /ScaleKV/);
  }
});

test('other native failures stay internal, and ScaleKV errors pass through unchanged', () => {
  assert.equal(toErrorInfo(new Error('Non-zero status code returned while running MatMul node')).code, 'E_INTERNAL');
  assert.equal(toErrorInfo(new Error('a ROOM with a view')).code, 'E_INTERNAL');
  assert.deepEqual(toErrorInfo(new ScaleKVError('E_CANCELLED', 'The run was cancelled.')), {
    code: 'E_CANCELLED',
    message: 'The run was cancelled.',
    detail: undefined,
  });
});
