/**
 * Bad input reaches the user as a clear error with a stable code, and nothing hangs: missing and
 * damaged checkpoints, tensors that do not match the config, unknown providers, impossible sizes,
 * impossible budgets, and cancellation in the middle of a scale.
 */
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createEngine } from '../../../src/engine/engine';
import { chooseProvider, plainError } from '../../../src/engine/runtime';
import { writePth, type PthTree } from '../../../src/checkpoint/pthWriter';
import { openCheckpoint } from '../../../src/checkpoint';
import { INFINITY_TINY } from '../../../src/model/config';
import { makeTinyInfinityWeights } from '../../../src/model/tiny/infinityTiny';
import { type ScaleKVError } from '../../../src/shared/errors';
import { ctx, request, tempDir, TINY } from './helpers';

async function code(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as ScaleKVError).code, message: (e as Error).message };
  }
  assert.fail('expected an error');
}

function copyModel(): string {
  const dir = tempDir('model');
  cpSync(TINY, dir, { recursive: true });
  return dir;
}

test('a model folder without the transformer names what is missing', async () => {
  const dir = copyModel();
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      format: 'scalekv-model',
      name: 'x',
      transformer: 'nope.pth',
      vae: 'infinity_vae_tiny.pth',
      textEncoder: 'flan-t5-tiny',
    }),
  );
  const engine = createEngine();
  const e = await code(engine.generate(request({ modelPath: dir }), ctx()));
  assert.equal(e.code, 'E_CHECKPOINT_MISSING');
  assert.match(e.message, /nope\.pth/);
});

test('a truncated .pth is reported as truncated, at several cut points', async () => {
  const src = join(TINY, 'infinity_tiny.pth');
  const bytes = readFileSync(src);
  for (const frac of [0.1, 0.5, 0.999]) {
    const p = join(tempDir('trunc'), 'cut.pth');
    writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length * frac)));
    assert.throws(
      () => openCheckpoint(p).readFloat32('word_embed.weight'),
      (e: ScaleKVError) => e.code === 'E_CHECKPOINT_TRUNCATED' && e.message.includes(p),
    );
  }
});

test('a corrupt pickle is reported as corrupt, not executed', () => {
  const p = join(tempDir('corrupt'), 'bad.pth');
  const bytes = Buffer.from(readFileSync(join(TINY, 'infinity_tiny.pth')));
  // the pickle follows the first local header; overwrite its opcodes
  const at = bytes.indexOf(Buffer.from('data.pkl')) + 'data.pkl'.length + 200;
  bytes.fill(0xff, at, at + 16);
  writeFileSync(p, bytes);
  assert.throws(
    () => openCheckpoint(p),
    (e: ScaleKVError) => e.code === 'E_CHECKPOINT_CORRUPT',
  );
});

test('a state_dict with a mis-shaped tensor names the tensor and both shapes', async () => {
  const dir = copyModel();
  const w = makeTinyInfinityWeights(INFINITY_TINY);
  const tree: PthTree = {};
  for (const n of w.names()) tree[n] = { shape: w.shape(n), data: w.get(n) };
  const name = 'block_chunks.1.module.2.ffn.fc1.weight';
  tree[name] = { shape: [128, 64], data: new Float32Array(128 * 64) };
  writePth(join(dir, 'infinity_tiny.pth'), tree);
  const engine = createEngine();
  const e = await code(engine.generate(request({ modelPath: dir }), ctx()));
  assert.equal(e.code, 'E_SHAPE_MISMATCH');
  assert.match(e.message, /block_chunks\.1\.module\.2\.ffn\.fc1\.weight/);
  assert.match(e.message, /\[128, 64\]/);
  assert.match(e.message, /\[256, 64\]/);
});

test('a state_dict with a missing tensor names it', async () => {
  const dir = copyModel();
  const w = makeTinyInfinityWeights(INFINITY_TINY);
  const tree: PthTree = {};
  for (const n of w.names()) if (n !== 'head.bias') tree[n] = { shape: w.shape(n), data: w.get(n) };
  writePth(join(dir, 'infinity_tiny.pth'), tree);
  const e = await code(createEngine().generate(request({ modelPath: dir }), ctx()));
  assert.equal(e.code, 'E_SHAPE_MISMATCH');
  assert.match(e.message, /'head\.bias' is missing/);
});

test('an unknown execution provider is refused by name', async () => {
  const e = await code(chooseProvider('tpu'));
  assert.equal(e.code, 'E_PROVIDER_UNKNOWN');
  assert.match(e.message, /tpu/);
});

test('cuda falls back with a reason when it is not installed', async () => {
  const info = await chooseProvider('cuda');
  // this machine has no CUDA provider: whatever ran, the reason says why cuda did not
  if (info.used !== 'cuda') assert.match(info.reason, /fell back to (webgpu|cpu) because cuda/);
});

test('a provider failure is reported by its actionable sentence, not onnxruntime’s source location', async () => {
  const ort =
    '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\nstack';
  assert.equal(plainError(ort), 'Failed to get a WebGPU adapter: No supported adapters');
  assert.equal(
    plainError('/onnxruntime_src/onnxruntime/core/session/inference_session.cc:2210 Could not find an implementation for X'),
    'Could not find an implementation for X',
  );
  assert.equal(plainError('plain message\nsecond line'), 'plain message');
  assert.equal(plainError('x'.repeat(500)).length, 200);
  const info = await chooseProvider('auto');
  assert.ok(!/onnxruntime_src|::/.test(info.reason), `the reason is plain: ${info.reason}`);
});

test('an impossible resolution or aspect ratio is refused before any work', async () => {
  const engine = createEngine();
  assert.equal((await code(engine.generate(request({ resolution: '4M' }), ctx()))).code, 'E_RESOLUTION');
  assert.equal((await code(engine.generate(request({ aspectRatio: 40 }), ctx()))).code, 'E_RESOLUTION');
  assert.equal((await code(engine.generate(request({ aspectRatio: -1 }), ctx()))).code, 'E_RESOLUTION');
});

test('a budget that cannot hold the observation windows is refused', async () => {
  const e = await code(createEngine().generate(request({ policy: { name: 'snapkv', ratio: 0.0005 } }), ctx()));
  assert.equal(e.code, 'E_BUDGET_INVALID');
});

test('cancelling mid-scale stops the run with E_CANCELLED and writes no run record', async () => {
  const engine = createEngine();
  const ac = new AbortController();
  const out = tempDir('cancel');
  let scales = 0;
  const e = await code(
    engine.generate(
      request({ outDir: out, resolution: '0.25M' }),
      ctx((p) => {
        // the fused runner reports a scale once, as it starts; the layer-by-layer one per layer
        if (p.stage === 'scale' && p.scaleIndex === 4 && ++scales === 1) ac.abort();
      }, ac.signal),
    ),
  );
  assert.equal(e.code, 'E_CANCELLED');
  assert.deepEqual(readdirSync(out), []);
  // the engine is still usable afterwards
  const { run } = await engine.generate(request(), ctx());
  assert.equal(run.images.length, 1);
  await engine.dispose();
});

test('copying the model keeps it loadable (guards the tests above)', async () => {
  const dir = copyModel();
  copyFileSync(join(TINY, 'manifest.json'), join(dir, 'manifest.json'));
  const { run } = await createEngine().generate(request({ modelPath: dir }), ctx());
  assert.equal(run.images[0].width, 256);
});
