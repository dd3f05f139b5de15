/**
 * The benchmark's GPU memory sampler, fed by a stand-in `nvidia-smi` on PATH that answers the name
 * query and then prints three readings in MiB: the peak, the latest reading and the peak inside a time
 * window come from those readings; a new window starts empty; without nvidia-smi there is no sampler.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startGpuMemorySampler } from '../../../src/cli/gpuMemory';
import { tempDir, withEnv } from '../engine/helpers';

const MiB = 2 ** 20;

const withPath = <T>(dir: string, f: () => T): T =>
  withEnv('PATH', () => {
    process.env.PATH = dir;
    return f();
  });

test(
  'the sampler reports the peak, the latest reading and the peak within a window of the readings nvidia-smi prints',
  { skip: process.platform === 'win32' && 'POSIX shell' },
  async () => {
    const bin = tempDir('smi');
    const smi = join(bin, 'nvidia-smi');
    writeFileSync(
      smi,
      [
        '#!/bin/sh',
        'case "$*" in',
        '  *name*) echo "Stand-in GPU, 1000 MiB" ;;',
        '  *) for v in 100 300 200; do echo "$v"; sleep 0.1; done; exec sleep 30 ;;',
        'esac',
        '',
      ].join('\n'),
    );
    chmodSync(smi, 0o755);
    const t0 = performance.now();
    const sampler = withPath(`${bin}:/usr/bin:/bin`, () => startGpuMemorySampler(50));
    assert.ok(sampler, 'a sampler where nvidia-smi answers');
    try {
      assert.equal(sampler.gpu, 'Stand-in GPU, 1000 MiB');
      const deadline = Date.now() + 10_000;
      while (sampler.current() !== 200 * MiB && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(sampler.current(), 200 * MiB, 'the latest reading');
      assert.equal(sampler.peak(), 300 * MiB, 'the highest reading');
      assert.equal(sampler.peakBetween(t0, performance.now()), 300 * MiB);
      assert.equal(sampler.peakBetween(performance.now() + 1000, performance.now() + 2000), 0, 'no reading in a later window');
      assert.equal(sampler.reset(), 300 * MiB, 'reset returns the window that ended');
      assert.equal(sampler.peak(), 0);
      assert.equal(sampler.peakBetween(t0, performance.now()), 0, 'a new window starts without readings');
    } finally {
      sampler.stop();
    }
  },
);

test('without nvidia-smi there is no sampler', () => {
  assert.equal(
    withPath(tempDir('nosmi'), () => startGpuMemorySampler()),
    null,
  );
});
