/**
 * "Install CUDA Provider" without VS Code: fetch the CUDA execution provider that onnxruntime-node's own
 * install step would fetch, check it, and set it up where the engine can load it.
 *
 * - Source: the bundled onnxruntime-node's script/install-metadata.js names, per platform, the NuGet feed,
 *   package, version and the files to take from it (linux/x64: libonnxruntime_providers_{shared,cuda,
 *   tensorrt}.so from Microsoft.ML.OnnxRuntime.Gpu.Linux). The package URL is built as its installer
 *   builds it: the feed's PackageBaseAddress/3.0.0 + id/version/id.version.nupkg.
 * - Expected size and SHA-512: PINNED_PACKAGES where a version is recorded there, otherwise NuGet's
 *   catalog entry for that package version (packageSize, packageHash), which nuget.org publishes for
 *   every package, as npm's registry publishes `integrity`. Both are checked before anything is unpacked.
 * - Loading: onnxruntime loads provider libraries from the folder of the libonnxruntime it runs from
 *   (it asks the dynamic loader where its own code lives), never from a search path, and the installed
 *   extension's folder is not ours to write. So the provider goes into a per-user copy of the bundled
 *   binding folder (onnxruntime_binding.node + libonnxruntime) in the extension's global storage, and the
 *   engine process loads that binding instead of the bundled one (see ortBinding.ts).
 * Everything appears complete or not at all: the folder is assembled under a staging name and renamed.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  type WriteStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { FileRange } from '../checkpoint/fileRange';
import { entryDataOffset, readZipDirectory } from '../checkpoint/zip';
import { cancelled, ScaleKVError } from '../shared/errors';

/** what onnxruntime-node's install step would fetch for one platform */
export interface CudaSource {
  ortVersion: string;
  platform: string;
  arch: string;
  /** onnxruntime-node's binding folder for this platform (bin/napi-v6/<platform>/<arch>) */
  bindingDir: string;
  packageId: string;
  version: string;
  feedIndex: string;
  /** file name beside the binding <- path inside the package */
  files: { name: string; pathInPackage: string }[];
}

export interface PackageDigest {
  size: number;
  /** base64, as NuGet publishes it */
  sha512: string;
}

/**
 * Sizes and hashes recorded by hand (key: lower-case id@version). Empty so far: the machine this was
 * written on cannot reach nuget.org, so 1.30.0's values could not be read and are taken from NuGet's
 * catalog at install time. A recorded entry wins, and a catalog that disagrees with it stops the install.
 */
const PINNED_PACKAGES: Record<string, PackageDigest> = {};

export interface ResolvedPackage extends PackageDigest {
  url: string;
  digestFrom: 'pinned' | 'nuget-catalog';
}

export interface InstalledCuda {
  dir: string;
  manifest: CudaManifest;
}

/** written last into the installed folder: what is there and where it came from */
export interface CudaManifest {
  format: 'scalekv-cuda-provider';
  ortVersion: string;
  platform: string;
  arch: string;
  package: ResolvedPackage & { id: string; version: string };
  files: { name: string; bytes: number }[];
  installedAt: string;
}

export interface NetOptions {
  signal?: AbortSignal;
  /** a request that receives nothing for this long fails (ms) */
  idleTimeoutMs?: number;
}

export interface InstallProgress {
  phase: 'resolve' | 'download' | 'unpack' | 'done';
  received?: number;
  total?: number;
}

export interface InstallOptions extends NetOptions {
  /** onnxruntime-node's package folder (the bundled one) */
  ortDir: string;
  /** the extension's global storage */
  storageDir: string;
  platform?: string;
  arch?: string;
  /** tests: another feed than the metadata's, and another pinned table */
  feedIndex?: string;
  pinned?: Record<string, PackageDigest>;
  onProgress?(p: InstallProgress): void;
}

/** the engine process's environment variable naming the installed folder (read by ortBinding.ts) */
export const BINDING_DIR_ENV = 'SCALEKV_ORT_BINDING_DIR';

const MANIFEST = 'scalekv-cuda.json';
const MAX_JSON_BYTES = 16 * 2 ** 20;

function unavailable(msg: string): ScaleKVError {
  return new ScaleKVError('E_CUDA_UNAVAILABLE', msg);
}

function ortVersionOf(ortDir: string): string {
  return (JSON.parse(readFileSync(join(ortDir, 'package.json'), 'utf8')) as { version: string }).version;
}

interface InstallMetadata {
  requirements: Record<string, string[]>;
  manifests: Record<string, Record<string, { package: string; path: string }>>;
  packages: Record<string, { name: string; versions: { feed: string; version: string }[] }>;
  feeds: Record<string, { type: string; index: string }>;
}

/** reads onnxruntime-node's install metadata: which package and files carry this platform's CUDA provider */
export function cudaSource(ortDir: string, platform: string = process.platform, arch: string = process.arch): CudaSource {
  const ortVersion = ortVersionOf(ortDir);
  let meta: InstallMetadata;
  try {
    meta = createRequire(join(ortDir, 'package.json'))('./script/install-metadata.js') as InstallMetadata;
  } catch (e) {
    throw unavailable(`onnxruntime-node ${ortVersion} has no install metadata (${(e as Error).message}).`);
  }
  const where = `${platform}/${arch}`;
  const wanted = (meta.requirements?.[where] ?? []).find((r) => r.startsWith('cuda'));
  const supported = Object.keys(meta.requirements ?? {}).filter((k) => meta.requirements[k].some((r) => r.startsWith('cuda')));
  if (!wanted) {
    throw unavailable(
      `onnxruntime-node ${ortVersion} offers a CUDA provider for ${supported.join(', ') || 'no platform'} only; this is ${where}.`,
    );
  }
  const manifest = meta.manifests?.[`${where}:${wanted}`];
  if (!manifest) throw unavailable(`onnxruntime-node ${ortVersion}'s install metadata has no file list for ${where}:${wanted}.`);
  const pkgKeys = [...new Set(Object.values(manifest).map((f) => f.package))];
  if (pkgKeys.length !== 1)
    throw unavailable(`onnxruntime-node ${ortVersion} takes the CUDA files from ${pkgKeys.length} packages; expected one.`);
  const pkg = meta.packages?.[pkgKeys[0]];
  const candidate = pkg?.versions?.[0];
  const feed = candidate && meta.feeds?.[candidate.feed];
  if (!pkg || !candidate || !feed || feed.type !== 'nuget')
    throw unavailable(`onnxruntime-node ${ortVersion}'s install metadata names no NuGet package for ${where}.`);
  return {
    ortVersion,
    platform,
    arch,
    bindingDir: join(ortDir, 'bin', 'napi-v6', platform, arch),
    packageId: pkg.name,
    version: candidate.version,
    feedIndex: feed.index,
    files: Object.entries(manifest).map(([file, f]) => ({ name: file.replace(/^\.\//, ''), pathInPackage: f.path })),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP: GET with redirects, an idle timeout and cancellation (node:https, so VS Code's proxy
// settings apply to it inside the extension host)
// ---------------------------------------------------------------------------------------------

function get(url: string, o: NetOptions, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(cancelled());
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return reject(new ScaleKVError('E_DOWNLOAD_FAILED', `Not a URL: ${url}`));
    }
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!lib) return reject(new ScaleKVError('E_DOWNLOAD_FAILED', `Unsupported protocol in ${url}`));
    let response: http.IncomingMessage | undefined;
    // a stalled or cancelled transfer fails with its own reason, also once the body is streaming
    const stop = (e: ScaleKVError) => {
      req.destroy(e);
      response?.destroy(e);
    };
    const req = lib.get(u, { headers: { 'user-agent': 'scalekv-vscode', accept: '*/*' } }, (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) return reject(new ScaleKVError('E_DOWNLOAD_FAILED', `Too many redirects from ${url}`));
        return resolve(get(new URL(res.headers.location, u).toString(), o, redirects - 1));
      }
      if (status !== 200) {
        res.resume();
        return reject(new ScaleKVError('E_DOWNLOAD_FAILED', `${url} answered HTTP ${status}.`));
      }
      resolve(res);
    });
    const idle = o.idleTimeoutMs ?? 60_000;
    req.setTimeout(idle, () => stop(new ScaleKVError('E_DOWNLOAD_FAILED', `${url} sent nothing for ${Math.round(idle / 1000)} s.`)));
    const onAbort = () => stop(cancelled());
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => o.signal?.removeEventListener('abort', onAbort));
    req.on('error', (e) =>
      reject(e instanceof ScaleKVError ? e : new ScaleKVError('E_DOWNLOAD_FAILED', `Cannot download ${url}: ${e.message}`)),
    );
  });
}

async function getJson<T>(url: string, o: NetOptions): Promise<T> {
  const res = await get(url, o);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > MAX_JSON_BYTES) {
      res.destroy();
      throw new ScaleKVError('E_DOWNLOAD_FAILED', `${url} sent more than ${MAX_JSON_BYTES} bytes of JSON.`);
    }
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  } catch {
    throw new ScaleKVError('E_DOWNLOAD_FAILED', `${url} did not answer with JSON.`);
  }
}

type ServiceIndex = { resources?: { '@id': string; '@type': string | string[] }[] };

function resource(index: ServiceIndex, type: string): string | undefined {
  const r = index.resources?.find((x) => (Array.isArray(x['@type']) ? x['@type'] : [x['@type']]).includes(type));
  return r && (r['@id'].endsWith('/') ? r['@id'] : `${r['@id']}/`);
}

/** the package's URL and the size and hash it must have */
async function resolvePackage(
  src: CudaSource,
  o: NetOptions & { feedIndex?: string; pinned?: Record<string, PackageDigest> } = {},
): Promise<ResolvedPackage> {
  const feed = o.feedIndex ?? src.feedIndex;
  const index = await getJson<ServiceIndex>(feed, o);
  const base = resource(index, 'PackageBaseAddress/3.0.0');
  if (!base) throw new ScaleKVError('E_DOWNLOAD_FAILED', `${feed} lists no PackageBaseAddress/3.0.0.`);
  const id = src.packageId.toLowerCase();
  const v = src.version.toLowerCase();
  const url = `${base}${id}/${v}/${id}.${v}.nupkg`;
  const pinned = (o.pinned ?? PINNED_PACKAGES)[`${id}@${v}`];
  if (pinned) return { url, ...pinned, digestFrom: 'pinned' };
  const reg = resource(index, 'RegistrationsBaseUrl/3.6.0') ?? resource(index, 'RegistrationsBaseUrl');
  if (!reg)
    throw new ScaleKVError(
      'E_DOWNLOAD_FAILED',
      `${feed} lists no registrations, so ${src.packageId} ${src.version} has no published hash to check.`,
    );
  const leaf = await getJson<{ catalogEntry?: string }>(`${reg}${id}/${v}.json`, o);
  if (typeof leaf.catalogEntry !== 'string')
    throw new ScaleKVError('E_DOWNLOAD_FAILED', `${src.packageId} ${src.version} has no catalog entry on ${feed}.`);
  const c = await getJson<{ packageHash?: string; packageHashAlgorithm?: string; packageSize?: number }>(leaf.catalogEntry, o);
  if (
    c.packageHashAlgorithm?.toUpperCase() !== 'SHA512' ||
    typeof c.packageHash !== 'string' ||
    !/^[A-Za-z0-9+/]{86}==$/.test(c.packageHash)
  ) {
    throw new ScaleKVError(
      'E_DOWNLOAD_FAILED',
      `The catalog entry of ${src.packageId} ${src.version} publishes no SHA-512 (${c.packageHashAlgorithm ?? 'none'}).`,
    );
  }
  if (!Number.isSafeInteger(c.packageSize) || (c.packageSize as number) <= 0) {
    throw new ScaleKVError('E_DOWNLOAD_FAILED', `The catalog entry of ${src.packageId} ${src.version} publishes no package size.`);
  }
  return { url, size: c.packageSize as number, sha512: c.packageHash, digestFrom: 'nuget-catalog' };
}

/**
 * Streams url to dest, hashing as it goes; stops as soon as more bytes than expected arrive. The file
 * stays only if its size and SHA-512 match.
 */
async function downloadVerified(
  url: string,
  expect: PackageDigest,
  dest: string,
  o: NetOptions & { onProgress?(received: number, total: number): void } = {},
): Promise<void> {
  const hash = createHash('sha512');
  let received = 0;
  let out: WriteStream | undefined;
  try {
    const res = await get(url, o);
    out = createWriteStream(dest);
    await pipeline(
      res,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          received += c.length;
          if (received > expect.size)
            throw new ScaleKVError('E_DOWNLOAD_CORRUPT', `${url} sent more than the ${expect.size} bytes published for it.`);
          hash.update(c);
          o.onProgress?.(received, expect.size);
          yield c;
        }
      },
      out,
      { signal: o.signal },
    );
    if (received !== expect.size)
      throw new ScaleKVError('E_DOWNLOAD_CORRUPT', `The download of ${url} ended after ${received} of ${expect.size} bytes.`);
    const got = hash.digest('base64');
    if (got !== expect.sha512)
      throw new ScaleKVError(
        'E_DOWNLOAD_CORRUPT',
        `${url} does not have the published SHA-512 (got ${got.slice(0, 16)}…, expected ${expect.sha512.slice(0, 16)}…).`,
      );
  } catch (e) {
    // the file may still be opening: remove it once the stream has let go of it
    if (out && !out.closed) await new Promise<void>((r) => out!.once('close', () => r()));
    rmSync(dest, { force: true });
    if (o.signal?.aborted) throw cancelled();
    if (e instanceof ScaleKVError) throw e;
    throw new ScaleKVError('E_DOWNLOAD_FAILED', `Cannot download ${url}: ${(e as Error).message}`);
  }
}

/** takes the named files out of a (verified) .nupkg */
async function unpackFiles(nupkg: string, files: CudaSource['files'], destDir: string, signal?: AbortSignal): Promise<void> {
  const f = new FileRange(nupkg);
  try {
    let dir;
    try {
      dir = readZipDirectory(f);
    } catch (e) {
      throw new ScaleKVError('E_DOWNLOAD_CORRUPT', `${nupkg} is not a readable package: ${(e as Error).message}`);
    }
    for (const { name, pathInPackage } of files) {
      const e = dir.get(pathInPackage);
      if (!e) throw new ScaleKVError('E_DOWNLOAD_CORRUPT', `The package has no ${pathInPackage}.`);
      if (e.method !== 0 && e.method !== 8)
        throw new ScaleKVError('E_DOWNLOAD_CORRUPT', `${pathInPackage} uses compression method ${e.method}.`);
      const start = entryDataOffset(f, e);
      const to = join(destDir, name);
      const raw = createReadStream('', { fd: f.fd, autoClose: false, start, end: start + e.compressedSize - 1 });
      const steps = e.method === 8 ? [raw, createInflateRaw(), createWriteStream(to)] : [raw, createWriteStream(to)];
      try {
        await (pipeline as (...s: unknown[]) => Promise<void>)(...steps, { signal });
      } catch (err) {
        if (signal?.aborted) throw cancelled();
        throw new ScaleKVError('E_DOWNLOAD_CORRUPT', `${pathInPackage} does not unpack: ${(err as Error).message}`);
      }
      if (statSync(to).size !== e.size)
        throw new ScaleKVError('E_DOWNLOAD_CORRUPT', `${pathInPackage} unpacked to ${statSync(to).size} bytes, expected ${e.size}.`);
    }
  } finally {
    f.close();
  }
}

/** storage/onnxruntime-cuda/<ortVersion>-<platform>-<arch> */
function cudaFolder(storageDir: string, ortVersion: string, platform: string = process.platform, arch: string = process.arch): string {
  return join(storageDir, 'onnxruntime-cuda', `${ortVersion}-${platform}-${arch}`);
}

/** the installed provider for the bundled onnxruntime-node, if complete */
export function installedCudaProvider(
  storageDir: string,
  ortDir: string,
  platform: string = process.platform,
  arch: string = process.arch,
): InstalledCuda | null {
  const ortVersion = ortVersionOf(ortDir);
  const dir = cudaFolder(storageDir, ortVersion, platform, arch);
  try {
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as CudaManifest;
    if (manifest.format !== 'scalekv-cuda-provider' || manifest.ortVersion !== ortVersion) return null;
    for (const f of manifest.files) if (statSync(join(dir, f.name)).size !== f.bytes) return null;
    return { dir, manifest };
  } catch {
    return null;
  }
}

/** fetches, checks and sets up the CUDA provider; replaces an earlier install only once complete */
export async function installCudaProvider(o: InstallOptions): Promise<InstalledCuda> {
  const platform = o.platform ?? process.platform;
  const arch = o.arch ?? process.arch;
  const src = cudaSource(o.ortDir, platform, arch);
  if (!existsSync(src.bindingDir)) throw unavailable(`This onnxruntime-node has no binding for ${platform}/${arch}.`);
  const root = join(o.storageDir, 'onnxruntime-cuda');
  const staging = join(root, `.staging-${randomBytes(6).toString('hex')}`);
  const bin = join(staging, 'bin');
  mkdirSync(bin, { recursive: true });
  try {
    o.onProgress?.({ phase: 'resolve' });
    const pkg = await resolvePackage(src, o);
    const nupkg = join(staging, 'package.nupkg');
    await downloadVerified(pkg.url, pkg, nupkg, {
      ...o,
      onProgress: (received, total) => o.onProgress?.({ phase: 'download', received, total }),
    });
    o.onProgress?.({ phase: 'unpack' });
    await unpackFiles(nupkg, src.files, bin, o.signal);
    rmSync(nupkg);
    // the binding and libonnxruntime beside the provider: onnxruntime looks for it next to itself
    for (const n of readdirSync(src.bindingDir))
      if (!src.files.some((f) => f.name === n)) copyFileSync(join(src.bindingDir, n), join(bin, n));
    if (o.signal?.aborted) throw cancelled();
    const files = readdirSync(bin).map((name) => ({ name, bytes: statSync(join(bin, name)).size }));
    const manifest: CudaManifest = {
      format: 'scalekv-cuda-provider',
      ortVersion: src.ortVersion,
      platform,
      arch,
      package: { ...pkg, id: src.packageId, version: src.version },
      files,
      installedAt: new Date().toISOString(),
    };
    writeFileSync(join(bin, MANIFEST), JSON.stringify(manifest, null, 2));
    const dir = cudaFolder(o.storageDir, src.ortVersion, platform, arch);
    rmSync(dir, { recursive: true, force: true });
    renameSync(bin, dir);
    // providers of other onnxruntime versions are hundreds of MB that nothing loads any more
    for (const n of readdirSync(root))
      if (!n.startsWith('.') && join(root, n) !== dir) rmSync(join(root, n), { recursive: true, force: true });
    o.onProgress?.({ phase: 'done' });
    return { dir, manifest };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
