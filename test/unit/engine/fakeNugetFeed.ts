/**
 * A NuGet-shaped feed on 127.0.0.1 (service index, registration leaf, catalog entry, flat container)
 * serving a fake CUDA provider package: the files onnxruntime-node's install metadata names, with
 * contents that are not libraries. The unit tests and the .vsix install test point the installer at it.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../../src/checkpoint/crc32';
import type { CudaSource } from '../../../src/engine/cudaProvider';

/** a zip (what a .nupkg is) with deflated entries */
export function zip(entries: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const n = Buffer.from(name);
    const packed = deflateRawSync(data);
    const crc = crc32(data);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(8, 8);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(packed.length, 18);
    h.writeUInt32LE(data.length, 22);
    h.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(8, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(packed.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(offset, 42);
    locals.push(h, n, packed);
    central.push(c, n);
    offset += h.length + n.length + packed.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('base64');

/** bytes that do not deflate away, so the package arrives in many chunks */
function noise(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  return b;
}

/** the package: the metadata's files with recognisable non-library contents, and an unrelated file */
export function fakeCudaPackage(src: CudaSource): { body: Buffer; libs: Record<string, Buffer> } {
  const libs = Object.fromEntries(
    src.files.map((f, i) => [f.pathInPackage, Buffer.from(`not a library: ${f.name} `.repeat(2000 + 500 * i))]),
  );
  return { body: zip({ '[Content_Types].xml': Buffer.from('<Types/>'), ...libs, 'lib/other.bin': noise(400_000) }), libs };
}

/** what the feed does with the next requests (tests change it between cases) */
export interface FeedBehaviour {
  body: Buffer;
  publishedHash: string;
  publishedSize: number;
  mode: 'ok' | 'flip' | 'short' | 'long' | 'stall' | 'missing';
  requests: string[];
}

export interface FakeFeed {
  /** the service index URL */
  index: string;
  base: string;
  behaviour: FeedBehaviour;
  close(): void;
}

export async function startFakeFeed(src: CudaSource, body: Buffer): Promise<FakeFeed> {
  const behaviour: FeedBehaviour = { body, publishedHash: sha512(body), publishedSize: body.length, mode: 'ok', requests: [] };
  let base = '';
  const id = src.packageId.toLowerCase();
  const v = src.version.toLowerCase();
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    behaviour.requests.push(url);
    const json = (value: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url === '/v3/index.json') {
      return json({
        version: '3.0.0',
        resources: [
          { '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' },
          { '@id': `${base}/reg/`, '@type': ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned'] },
        ],
      });
    }
    if (url === `/reg/${id}/${v}.json`) return json({ '@id': `${base}${url}`, catalogEntry: `${base}/catalog/leaf.json` });
    if (url === '/catalog/leaf.json') {
      const { publishedHash: packageHash, publishedSize: packageSize } = behaviour;
      return json({ id: src.packageId, version: src.version, packageHash, packageHashAlgorithm: 'SHA512', packageSize });
    }
    if (url !== `/flat/${id}/${v}/${id}.${v}.nupkg` || behaviour.mode === 'missing') {
      res.writeHead(404);
      return void res.end();
    }
    let b = behaviour.body;
    if (behaviour.mode === 'flip') {
      b = Buffer.from(b);
      b[b.length >> 1] ^= 0xff;
    }
    if (behaviour.mode === 'short') b = b.subarray(0, b.length - 1000);
    if (behaviour.mode === 'long') b = Buffer.concat([b, Buffer.alloc(5000)]);
    // chunked (no content-length), as a proxy may send it: the client counts bytes itself
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    if (behaviour.mode === 'stall') return void res.write(b.subarray(0, 65536)); // then nothing
    for (let i = 0; i < b.length; i += 65536) res.write(b.subarray(i, i + 65536));
    res.end();
  };
  const server = createServer(serve);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // a test that forgets to close it does not keep the process alive
  server.unref();
  return {
    index: `${base}/v3/index.json`,
    base,
    behaviour,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
