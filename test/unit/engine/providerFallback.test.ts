/**
 * A GPU provider that cannot build or run one of the model's graphs hands the job to the next provider,
 * and the user hears which graph failed and why; out of memory, cancellation and CPU failures do not fall
 * back. The failures come from real onnxruntime sessions (sessions.ts names each graph); the loaded models
 * in the cache tests are stand-ins, since this machine has no second provider to fail over from.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../../kernels/onnx/graph';
import type { JobContext } from '../../../src/engine/api';
import { ModelCache, type CachedModel } from '../../../src/engine/modelCache';
import { PartialBuild } from '../../../src/engine/partialBuild';
import { chooseProvider, type ProviderSkip } from '../../../src/engine/runtime';
import { createSession, GraphRunError, PROFILE_ENV, profileName, releaseDeviceOutputs, sessionOptions } from '../../../src/engine/sessions';
import { ScaleKVError, toErrorInfo } from '../../../src/shared/errors';
import type { ExecutionProvider, ProviderSetting } from '../../../src/shared/types';

function matmul2x2(): Uint8Array {
  const g = new Graph('fallback-probe');
  const x = g.input('x', 'float32', [2, 2]);
  g.outputAs(g.matmul(x, g.constF([1, 2, 3, 4], [2, 2])), 'y');
  return g.toBytes();
}

const ctx = (signal = new AbortController().signal): JobContext & { logs: string[] } => {
  const logs: string[] = [];
  return { onProgress: () => {}, signal, log: (_l, m) => logs.push(m), logs };
};

test("letting go of a session's outputs fails input validation only, and the session runs on unchanged", async () => {
  // on WebGPU this rebinds (and so frees) the outputs the binding keeps; here it must not run any kernel
  // nor leave the session unusable
  const s = await createSession(matmul2x2(), 'cpu', 'scale 0 (1x1)');
  const x = new ort.Tensor('float32', Float32Array.from([0, 1, 1, 0]), [2, 2]);
  const first = (await s.run({ x })).y.data as Float32Array;
  assert.deepEqual([...first], [3, 4, 1, 2]);
  assert.equal(await releaseDeviceOutputs(s), true, 'the run fails on the element type, as intended');
  assert.deepEqual([...first], [3, 4, 1, 2], 'a result already handed out is untouched');
  assert.deepEqual([...((await s.run({ x })).y.data as Float32Array)], [3, 4, 1, 2]);
  // a feed given for an input binds as it is (here a valid one: the run then succeeds, and says so)
  assert.equal(await releaseDeviceOutputs(s, { x }), false);
  await s.release();
});

test('a session that fails to run or build names its graph and provider, and keeps the runtime message', async () => {
  const s = await createSession(matmul2x2(), 'cpu', 'scale 3 (4x4)');
  const ok = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1]), [2, 2]) });
  assert.deepEqual([...(ok.y.data as Float32Array)], [1, 2, 3, 4]);
  const err = await s.run({ x: new ort.Tensor('float32', new Float32Array(9), [3, 3]) }).then(
    () => null,
    (e: unknown) => e,
  );
  await s.release();
  assert.ok(err instanceof GraphRunError, 'a GraphRunError');
  assert.equal(err.graph, 'scale 3 (4x4)');
  assert.equal(err.provider, 'cpu');
  assert.equal(err.stage, 'run');
  assert.match(err.reason, /dimension|Got invalid/i, 'onnxruntime’s own reason is kept');
  assert.match(err.message, /^cpu could not run the scale 3 \(4x4\) graph: /);
  // not out of memory: the user sees it as an internal error with the graph named
  assert.equal(toErrorInfo(err).code, 'E_INTERNAL');

  const bad = await createSession(Uint8Array.from([1, 2, 3]), 'cpu', 'VAE decoder').then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(bad instanceof GraphRunError);
  assert.equal(bad.stage, 'build');
  assert.match(bad.message, /^cpu could not build the VAE decoder graph: /);
});

test('out of memory on a named graph is still E_OOM with what to try', () => {
  const e = new GraphRunError('scale 12 (64x64)', 'webgpu', 'run', 'Failed to allocate memory for requested buffer of size 5368709120');
  const info = toErrorInfo(e);
  assert.equal(info.code, 'E_OOM');
  assert.match(info.message, /scale 12 \(64x64\)/);
  assert.match(info.message, /smaller resolution/);
});

test('the provider choice passes over providers that failed, and says why it fell back', async () => {
  const skip: ProviderSkip[] = [
    { provider: 'cuda', why: 'cuda could not run the block 3 graph: no kernel' },
    { provider: 'webgpu', why: 'webgpu could not run the scale 9 (32x32) graph: shader failed' },
  ];
  const info = await chooseProvider('auto', skip);
  assert.equal(info.used, 'cpu');
  assert.match(info.reason, /^fell back to cpu because cuda could not run the block 3 graph: no kernel; webgpu could not run the scale 9/);
  const asked = await chooseProvider('webgpu', [skip[1]]);
  assert.equal(asked.used, 'cpu');
  assert.equal(asked.requested, 'webgpu');
  assert.match(asked.reason, /webgpu could not run the scale 9 \(32x32\) graph/);
});

/** models that run on whatever provider the skips leave, first in the order webgpu, cpu */
function standIns() {
  const loads: { provider: ProviderSetting; skip: ExecutionProvider[] }[] = [];
  const released: ExecutionProvider[] = [];
  const load = (_path: string | undefined, provider: ProviderSetting, _ctx: JobContext, skip: ProviderSkip[]) => {
    loads.push({ provider, skip: skip.map((s) => s.provider) });
    const used: ExecutionProvider = skip.some((s) => s.provider === 'webgpu') ? 'cpu' : 'webgpu';
    const m: CachedModel & { used: ExecutionProvider } = {
      used,
      provider: {
        requested: provider,
        used,
        reason: skip.length ? `fell back to ${used} because ${skip[0].why}` : `${used}: as requested`,
      },
      release: async () => {
        released.push(used);
      },
    };
    return Promise.resolve(m);
  };
  return { cache: new ModelCache(load), loads, released };
}

test('a graph a GPU provider cannot run: the job runs again on the next provider, which stays chosen', async () => {
  const { cache, loads, released } = standIns();
  const c = ctx();
  const ran: ExecutionProvider[] = [];
  const r = await cache.withFallback('m', 'webgpu', c, (m) => {
    ran.push(m.used);
    if (m.used === 'webgpu') throw new GraphRunError('scale 9 (32x32)', 'webgpu', 'run', 'Unsupported data type');
    return Promise.resolve(`images on ${m.used}`);
  });
  assert.equal(r.result, 'images on cpu');
  assert.deepEqual(ran, ['webgpu', 'cpu']);
  assert.deepEqual(r.fellBack, ['webgpu could not run the scale 9 (32x32) graph: Unsupported data type']);
  assert.deepEqual(released, ['webgpu'], 'the failed provider’s sessions were released');
  assert.match(c.logs.join('\n'), /scale 9 \(32x32\).*next provider/);
  assert.match(cache.peek('m', 'webgpu')?.provider.reason ?? '', /fell back to cpu because webgpu could not run the scale 9/);

  // the next job does not try the failed provider again, loaded or reloaded
  const again = await cache.withFallback('m', 'webgpu', ctx(), (m) => Promise.resolve(m.used));
  assert.deepEqual([again.result, again.fellBack], ['cpu', []]);
  await cache.get('other', 'webgpu', ctx());
  await cache.get('m', 'webgpu', ctx());
  assert.deepEqual(
    loads.map((l) => l.skip),
    [[], ['webgpu'], [], ['webgpu']],
  );
});

test('a graph that fails to build while loading falls back the same way', async () => {
  let builds = 0;
  const cache = new ModelCache((_p, provider, _c, skip) => {
    builds++;
    if (!skip.length) return Promise.reject(new GraphRunError('text encoder', 'webgpu', 'build', 'no adapter feature shader-f16'));
    return Promise.resolve({ provider: { requested: provider, used: 'cpu' as const, reason: 'fell back' }, release: async () => {} });
  });
  const m = await cache.get(undefined, 'auto', ctx());
  assert.equal(m.provider.used, 'cpu');
  assert.equal(builds, 2);
});

test('out of memory, cancellation and CPU failures are reported, not retried elsewhere', async () => {
  const oom = standIns();
  await assert.rejects(
    oom.cache.withFallback('m', 'auto', ctx(), () =>
      Promise.reject(new GraphRunError('scale 12 (64x64)', 'webgpu', 'run', 'out of memory')),
    ),
    /out of memory/,
  );
  assert.equal(oom.loads.length, 1);

  const cancel = standIns();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    cancel.cache.withFallback('m', 'auto', ctx(ac.signal), () =>
      Promise.reject(new GraphRunError('block 0', 'webgpu', 'run', 'device lost')),
    ),
    /device lost/,
  );
  assert.equal(cancel.loads.length, 1);

  const cpu = standIns();
  let tries = 0;
  await assert.rejects(
    cpu.cache.withFallback('m', 'auto', ctx(), (m) => {
      tries++;
      return Promise.reject(new GraphRunError('head', m.used, 'run', 'bad shape'));
    }),
    /^GraphRunError: cpu could not run the head graph: bad shape/,
  );
  assert.equal(tries, 2, 'webgpu, then cpu, then no further provider');

  // an error on the provider the job moved to says why it moved (fp16 asked of the CPU, say)
  const moved = standIns();
  await assert.rejects(
    moved.cache.withFallback('m', 'webgpu', ctx(), (m) =>
      Promise.reject(
        m.used === 'webgpu'
          ? new GraphRunError('scale 2 (4x4)', 'webgpu', 'run', 'device lost')
          : new ScaleKVError('E_INVALID_REQUEST', 'float16 runs on a GPU provider (webgpu or cuda).'),
      ),
    ),
    (e: ScaleKVError) =>
      e.code === 'E_INVALID_REQUEST' &&
      /^float16 runs on a GPU provider \(webgpu or cuda\)\. \(The job had fallen back to cpu because webgpu could not run the scale 2 \(4x4\) graph: device lost\.\)$/.test(
        e.message,
      ),
  );

  const other = standIns();
  await assert.rejects(
    other.cache.withFallback('m', 'auto', ctx(), () => Promise.reject(new Error('a bug, not a provider'))),
    /a bug/,
  );
  assert.equal(other.loads.length, 1);
});

test('a load that fails part-way releases the parts it built, and only those', async () => {
  const released: string[] = [];
  const part = (name: string) => () => Promise.resolve({ name, release: async () => void released.push(name) });
  const built = new PartialBuild();
  await built.add(part('text encoder'));
  await built.add(part('VAE decoder'));
  await assert.rejects(
    built.add(() => Promise.reject(new GraphRunError('conditioning', 'webgpu', 'build', 'no kernel'))),
    /webgpu could not build the conditioning graph/,
  );
  assert.deepEqual(released, ['text encoder', 'VAE decoder']);

  const cancelled = new PartialBuild();
  await cancelled.add(part('a'));
  await cancelled.add(part('b'));
  released.length = 0;
  await cancelled.releaseAll();
  assert.deepEqual(released, ['a', 'b']);
});

test('SCALEKV_ORT_PROFILE makes every session write its profile, named after its graph, when released', async () => {
  const dir = join(tmpdir(), `scalekv-profile-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const before = process.env[PROFILE_ENV];
  process.env[PROFILE_ENV] = dir;
  try {
    const s = await createSession(matmul2x2(), 'cpu', 'scale 3 (4x4)');
    await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1]), [2, 2]) });
    await s.release();
  } finally {
    if (before === undefined) delete process.env[PROFILE_ENV];
    else process.env[PROFILE_ENV] = before;
  }
  const files = readdirSync(dir);
  assert.equal(files.length, 1, `one profile: ${files.join(', ')}`);
  assert.match(files[0], /^scale-3-4x4_.*\.json$/);
  const events = JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) as { cat: string; args?: { op_name?: string } }[];
  assert.ok(
    events.some((e) => e.cat === 'Node' && e.args?.op_name === 'MatMul'),
    'the MatMul node run is in the profile',
  );
  assert.equal(sessionOptions('cpu').enableProfiling, undefined, 'off without the switch');
  assert.equal(profileName('VAE decoder'), 'VAE-decoder');
});
