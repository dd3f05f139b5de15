/**
 * "Install CUDA Provider" against a local NuGet-shaped server on 127.0.0.1 serving a fake package: the
 * source read from the bundled onnxruntime-node's install metadata, download with progress, size and
 * SHA-512 checks (a corrupt download, a wrong published hash, a short and a long body, a cancel), unpacking,
 * the folder that appears complete or not at all, and where onnxruntime then looks for the provider.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cudaSource,
  installCudaProvider,
  installedCudaProvider,
  type InstallOptions,
  type InstallProgress,
} from '../../../src/engine/cudaProvider';
import { ScaleKVError } from '../../../src/shared/errors';
import { fakeCudaPackage, sha512, startFakeFeed, zip, type FakeFeed, type FeedBehaviour } from './fakeNugetFeed';
import { tempDir } from './helpers';

const ORT_DIR = dirname(require.resolve('onnxruntime-node/package.json'));
const ROOT = resolve(__dirname, '..', '..', '..', '..');

// the files onnxruntime-node's metadata names for linux/x64, with recognisable non-library contents
const SRC = cudaSource(ORT_DIR, 'linux', 'x64');
const { body: PACKAGE, libs: FAKE_LIBS } = fakeCudaPackage(SRC);
let fake: FakeFeed;
let feed: FeedBehaviour;
let base = '';

before(async () => {
  fake = await startFakeFeed(SRC, PACKAGE);
  feed = fake.behaviour;
  base = fake.base;
});
after(() => {
  fake.close();
  rmSync(storage, { recursive: true, force: true });
});

function reset(over: Partial<FeedBehaviour> = {}): void {
  Object.assign(feed, { body: PACKAGE, publishedHash: sha512(PACKAGE), publishedSize: PACKAGE.length, mode: 'ok', requests: [] }, over);
}

const storage = tempDir('cuda-storage');
const options = (over: Partial<InstallOptions> = {}): InstallOptions => ({
  ortDir: ORT_DIR,
  storageDir: storage,
  platform: 'linux',
  arch: 'x64',
  feedIndex: `${base}/v3/index.json`,
  pinned: {},
  idleTimeoutMs: 10_000,
  ...over,
});

async function refused(code: string, pattern: RegExp, over: Partial<InstallOptions> = {}): Promise<void> {
  await assert.rejects(installCudaProvider(options(over)), (e: unknown) => {
    assert.ok(e instanceof ScaleKVError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
  // nothing half-written is left behind
  assert.deepEqual(
    readdirSync(join(storage, 'onnxruntime-cuda')).filter((n) => n.startsWith('.')),
    [],
  );
}

describe('the CUDA provider source is what onnxruntime-node’s install step fetches', () => {
  test('linux/x64: the NuGet package, version and three provider libraries of its install metadata', () => {
    const ortVersion = JSON.parse(readFileSync(join(ORT_DIR, 'package.json'), 'utf8')).version;
    assert.equal(SRC.ortVersion, ortVersion);
    assert.equal(SRC.packageId, 'Microsoft.ML.OnnxRuntime.Gpu.Linux');
    assert.equal(SRC.version, ortVersion, 'the package version is the bundled onnxruntime-node version');
    assert.equal(SRC.feedIndex, 'https://api.nuget.org/v3/index.json');
    assert.deepEqual(SRC.files.map((f) => f.name).sort(), [
      'libonnxruntime_providers_cuda.so',
      'libonnxruntime_providers_shared.so',
      'libonnxruntime_providers_tensorrt.so',
    ]);
    for (const f of SRC.files) assert.equal(f.pathInPackage, `runtimes/linux-x64/native/${f.name}`);
  });

  test('platforms without a CUDA provider in onnxruntime-node are told so', () => {
    for (const [p, a] of [
      ['darwin', 'arm64'],
      ['win32', 'x64'],
      ['linux', 'arm64'],
    ]) {
      assert.throws(
        () => cudaSource(ORT_DIR, p, a),
        (e: unknown) =>
          e instanceof ScaleKVError &&
          e.code === 'E_CUDA_UNAVAILABLE' &&
          /linux\/x64 only/.test(e.message) &&
          e.message.includes(`${p}/${a}`),
      );
    }
  });
});

describe('download, verify, unpack (local server on 127.0.0.1)', () => {
  let installedDir = '';

  test('installs: the published size and SHA-512 checked, three libraries unpacked beside a copy of the binding', async () => {
    reset();
    const progress: InstallProgress[] = [];
    const r = await installCudaProvider(options({ onProgress: (p) => progress.push(p) }));
    installedDir = r.dir;
    assert.equal(r.manifest.package.digestFrom, 'nuget-catalog');
    assert.equal(r.manifest.package.sha512, sha512(PACKAGE));
    assert.equal(r.manifest.package.size, PACKAGE.length);
    assert.equal(
      r.manifest.package.url,
      `${base}/flat/${SRC.packageId.toLowerCase()}/${SRC.version}/${SRC.packageId.toLowerCase()}.${SRC.version}.nupkg`,
    );
    for (const f of SRC.files)
      assert.deepEqual(readFileSync(join(r.dir, f.name)), FAKE_LIBS[f.pathInPackage], `${f.name} unpacked byte for byte`);
    for (const n of readdirSync(SRC.bindingDir))
      assert.equal(statSync(join(r.dir, n)).size, statSync(join(SRC.bindingDir, n)).size, `${n} copied`);
    assert.deepEqual(readFileSync(join(r.dir, 'onnxruntime_binding.node')), readFileSync(join(SRC.bindingDir, 'onnxruntime_binding.node')));
    assert.equal(existsSync(join(r.dir, 'other.bin')), false, 'only the named files are unpacked');
    const downloads = progress.filter((p) => p.phase === 'download');
    assert.ok(downloads.length >= 2, 'progress is reported while the package arrives');
    assert.ok(
      downloads.every((p, i) => i === 0 || p.received! > downloads[i - 1].received!),
      'progress only grows',
    );
    assert.equal(downloads.at(-1)!.received, PACKAGE.length);
    assert.deepEqual(
      progress.map((p) => p.phase).filter((p, i, a) => p !== a[i - 1]),
      ['resolve', 'download', 'unpack', 'done'],
    );
    assert.deepEqual(installedCudaProvider(storage, ORT_DIR, 'linux', 'x64')?.dir, r.dir);
  });

  test('a recorded size and hash are used without asking the catalog', async () => {
    reset();
    const key = `${SRC.packageId.toLowerCase()}@${SRC.version}`;
    const r = await installCudaProvider(options({ pinned: { [key]: { size: PACKAGE.length, sha512: sha512(PACKAGE) } } }));
    assert.equal(r.manifest.package.digestFrom, 'pinned');
    assert.equal(
      feed.requests.some((u) => u.startsWith('/reg/') || u.startsWith('/catalog/')),
      false,
    );
  });

  test('a corrupt download (one byte changed) is refused by its hash; the earlier install stays', async () => {
    reset({ mode: 'flip' });
    const before = readFileSync(join(installedDir, 'scalekv-cuda.json'), 'utf8');
    await refused('E_DOWNLOAD_CORRUPT', /does not have the published SHA-512/);
    assert.equal(readFileSync(join(installedDir, 'scalekv-cuda.json'), 'utf8'), before);
    assert.equal(installedCudaProvider(storage, ORT_DIR, 'linux', 'x64')?.dir, installedDir);
  });

  test('a wrong published hash (catalog or recorded) is refused', async () => {
    reset({ publishedHash: sha512(Buffer.from('another package')) });
    await refused('E_DOWNLOAD_CORRUPT', /does not have the published SHA-512/);
    reset();
    const key = `${SRC.packageId.toLowerCase()}@${SRC.version}`;
    await refused('E_DOWNLOAD_CORRUPT', /SHA-512/, { pinned: { [key]: { size: PACKAGE.length, sha512: sha512(Buffer.from('x')) } } });
  });

  test('a short body and a long body are refused by their size', async () => {
    reset({ mode: 'short' });
    await refused('E_DOWNLOAD_CORRUPT', new RegExp(`ended after ${PACKAGE.length - 1000} of ${PACKAGE.length} bytes`));
    reset({ mode: 'long' });
    await refused('E_DOWNLOAD_CORRUPT', new RegExp(`more than the ${PACKAGE.length} bytes`));
  });

  test('a package with the published hash but without the provider files is refused', async () => {
    const wrong = zip({ 'runtimes/linux-x64/native/libsomething_else.so': Buffer.from('x') });
    reset({ body: wrong, publishedHash: sha512(wrong), publishedSize: wrong.length });
    await refused('E_DOWNLOAD_CORRUPT', /has no runtimes\/linux-x64\/native\/libonnxruntime_providers_/);
  });

  test('a missing package is an HTTP error naming the URL', async () => {
    reset({ mode: 'missing' });
    await refused('E_DOWNLOAD_FAILED', /\.nupkg answered HTTP 404/);
  });

  test('cancel mid-download stops at once and leaves nothing', async () => {
    reset({ mode: 'stall' });
    const ac = new AbortController();
    await refused('E_CANCELLED', /cancelled/, { signal: ac.signal, onProgress: (p) => p.phase === 'download' && ac.abort() });
    assert.equal(installedCudaProvider(storage, ORT_DIR, 'linux', 'x64')?.dir, installedDir, 'the earlier install is untouched');
  });

  test('a server that stops sending fails after the idle timeout', async () => {
    reset({ mode: 'stall' });
    await refused('E_DOWNLOAD_FAILED', /sent nothing for 1 s/, { idleTimeoutMs: 1000 });
  });

  test('an install for another platform, none at all, or one with a damaged file is not used', () => {
    assert.equal(installedCudaProvider(storage, ORT_DIR, 'linux', 'arm64'), null);
    assert.equal(installedCudaProvider(join(storage, 'elsewhere'), ORT_DIR, 'linux', 'x64'), null);
    const lib = join(installedDir, 'libonnxruntime_providers_cuda.so');
    const good = readFileSync(lib);
    writeFileSync(lib, good.subarray(0, 100));
    try {
      assert.equal(installedCudaProvider(storage, ORT_DIR, 'linux', 'x64'), null);
    } finally {
      writeFileSync(lib, good);
    }
    assert.equal(installedCudaProvider(storage, ORT_DIR, 'linux', 'x64')?.dir, installedDir);
  });

  // where onnxruntime looks for the provider: only meaningful on the platform whose binding is loaded
  const native = process.platform === 'linux' && process.arch === 'x64';
  test(
    'the engine loads the copied binding, and onnxruntime looks for the CUDA provider beside it',
    { skip: !native && 'linux-x64 only' },
    () => {
      assert.ok(installedDir, 'installed by the first case');
      const probe = (env: Record<string, string>) => {
        const script = `
        const { chooseProvider } = require(process.argv[1]);
        chooseProvider('auto').then((p) => {
          const maps = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n')
            .map((l) => l.split(/\\s+/).pop()).filter((f) => /libonnxruntime\\.so/.test(f));
          console.log(JSON.stringify({ provider: p, libs: [...new Set(maps)] }));
        });`;
        const r = spawnSync(process.execPath, ['-e', script, join(ROOT, 'out', 'src', 'engine', 'runtime.js')], {
          cwd: ROOT,
          env: { ...process.env, ...env },
          encoding: 'utf8',
          timeout: 60_000,
        });
        assert.equal(r.status, 0, r.stderr);
        return {
          ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as { provider: { used: string; reason: string }; libs: string[] }),
          stderr: r.stderr,
        };
      };
      const bundledLib = join(SRC.bindingDir, 'libonnxruntime.so.1');
      const plain = probe({ SCALEKV_ORT_BINDING_DIR: '' });
      assert.deepEqual(plain.libs, [bundledLib]);
      assert.match(plain.provider.reason, /cuda: not installed with this onnxruntime-node \(run ScaleKV: Install CUDA Provider\)/);

      const withCuda = probe({ SCALEKV_ORT_BINDING_DIR: installedDir });
      assert.deepEqual(withCuda.libs, [join(installedDir, 'libonnxruntime.so.1')], 'the copy of libonnxruntime is the one loaded');
      // the fake provider is not a library: onnxruntime's complaint names where it looked
      assert.ok(
        withCuda.stderr.includes(`Failed to load library ${join(installedDir, 'libonnxruntime_providers_shared.so')}`),
        withCuda.stderr,
      );
      assert.match(withCuda.provider.reason, /^fell back to (webgpu|cpu) because cuda: /);
      assert.doesNotMatch(withCuda.provider.reason, /not installed/);
      assert.ok(
        withCuda.provider.reason.includes(`the CUDA provider in ${installedDir} needs CUDA 12 and cuDNN`),
        withCuda.provider.reason,
      );

      const broken = probe({ SCALEKV_ORT_BINDING_DIR: join(storage, 'no-such-folder') });
      assert.deepEqual(broken.libs, [bundledLib], 'a folder that does not load leaves the bundled binding');
      assert.match(broken.provider.reason, /the installed one did not load \(.*no-such-folder/);
      assert.notEqual(broken.provider.used, 'cuda');
    },
  );
});
