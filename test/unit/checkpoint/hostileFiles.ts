/**
 * Builders for hostile checkpoint files, written byte by byte in the tests themselves: a pickle
 * assembler (protocol-2 opcodes, as torch.save writes them), a zip writer that can lie about sizes
 * and deflate entries, and a probe that opens a file in a separate Node process so that a hang or a
 * runaway allocation is stopped from outside and measured (peak RSS from getrusage) instead of taking
 * the test runner down with it.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';

/** A pickle, op by op. */
export class Pk {
  private b: number[] = [0x80, 2];
  raw(...x: number[]): this {
    for (const v of x) this.b.push(v & 255);
    return this;
  }
  u32(v: number): this {
    return this.raw(v, v >>> 8, v >>> 16, v >>> 24);
  }
  str(s: string): this {
    const u = Buffer.from(s, 'utf8');
    this.raw(0x58).u32(u.length);
    for (const x of u) this.b.push(x);
    return this;
  }
  /** BININT (signed 32-bit) */
  int(v: number): this {
    return this.raw(0x4a).u32(v >>> 0);
  }
  float(v: number): this {
    const d = Buffer.alloc(8);
    d.writeDoubleBE(v);
    return this.raw(0x47, ...d);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...Buffer.from(`${module}\n${name}\n`));
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  put(k: number): this {
    return this.raw(0x72).u32(k);
  }
  get(k: number): this {
    return this.raw(0x6a).u32(k);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  stop(): Uint8Array {
    return Uint8Array.from([...this.b, 0x2e]);
  }
  /** _rebuild_tensor_v2(storage(key, numel), offset, shape, stride, False, OrderedDict()) */
  tensor(key: string, numel: number, offset: (p: Pk) => void, shape: (p: Pk) => void, stride: (p: Pk) => void): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', 'FloatStorage').str(key).str('cpu').int(numel).tuple().raw(0x51);
    offset(this);
    shape(this);
    stride(this);
    this.raw(0x89).global('collections', 'OrderedDict').raw(0x29).reduce();
    return this.tuple().reduce();
  }
  /** a tuple of BININTs */
  ints(xs: number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
}

/** A one-tensor state_dict {name: tensor} whose tensor arguments the caller writes. */
export function oneTensorPickle(
  name: string,
  numel: number,
  offset: (p: Pk) => void,
  shape: (p: Pk) => void,
  stride: (p: Pk) => void,
): Uint8Array {
  return new Pk().raw(0x7d).mark().str(name).tensor('0', numel, offset, shape, stride).raw(0x75).stop();
}

export interface ZipPart {
  name: string;
  data: Uint8Array;
  /** 8: deflate the data */
  method?: 0 | 8;
  /** with method 8: the data is already a raw deflate stream */
  precompressed?: boolean;
  /** the uncompressed size written in the headers (default: the true one) */
  declaredSize?: number;
}

/** A zip with the given entries; sizes are whatever the parts declare (CRCs are not checked by readers here). */
export function writeZip(path: string, parts: ZipPart[]): void {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const p of parts) {
    const name = Buffer.from(p.name);
    const method = p.method ?? 0;
    const body = method === 8 && !p.precompressed ? deflateRawSync(p.data) : Buffer.from(p.data);
    const size = p.declaredSize ?? p.data.length;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(method, 8);
    h.writeUInt32LE(body.length, 18);
    h.writeUInt32LE(size, 22);
    h.writeUInt16LE(name.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(off, 42);
    central.push(c, name);
    chunks.push(h, name, body);
    off += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  writeFileSync(path, Buffer.concat([...chunks, cd, end]));
}

/** A torch.save-like archive: archive/data.pkl plus storages archive/data/<key>. */
export function writeArchive(
  path: string,
  pickle: Uint8Array,
  storages: Record<string, Uint8Array> = {},
  pkl: Partial<ZipPart> = {},
): void {
  writeZip(path, [
    { name: 'archive/data.pkl', data: pickle, ...pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

export interface ProbeResult {
  /** 'ok' when the file opened and every tensor read */
  outcome: 'ok' | 'error' | 'killed';
  errorName?: string;
  code?: string;
  message?: string;
  /** growth of the probe process's peak resident memory while opening and reading (bytes) */
  peakGrowth: number;
}

const CHECKPOINT = resolve(__dirname, '..', '..', '..', 'src', 'checkpoint', 'index.js');

/**
 * Opens `path` with openCheckpoint in a fresh Node process and reads every tensor. The process is
 * killed after `killAfterMs` (a hang guard, not a timing assertion); its peak RSS growth is reported.
 */
export function probe(path: string, killAfterMs = 20000): ProbeResult {
  const script = `
    const { openCheckpoint } = require(${JSON.stringify(CHECKPOINT)});
    const before = process.resourceUsage().maxRSS * 1024;
    let out;
    try {
      const r = openCheckpoint(process.argv[1]);
      for (const k of r.keys()) r.readFloat32(k);
      r.close();
      out = { outcome: 'ok' };
    } catch (e) {
      out = { outcome: 'error', errorName: e && e.name, code: e && e.code, message: String(e && e.message) };
    }
    out.peakGrowth = process.resourceUsage().maxRSS * 1024 - before;
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['-e', script, path], { timeout: killAfterMs, encoding: 'utf8', killSignal: 'SIGKILL' });
  if (r.status !== 0 || !r.stdout) return { outcome: 'killed', message: `${r.signal ?? r.status}: ${r.stderr}`, peakGrowth: NaN };
  return JSON.parse(r.stdout) as ProbeResult;
}
