/**
 * Writes torch.save-compatible .pth files (zip of data.pkl + one record per storage, pickle protocol 2
 * with persistent ids and torch._utils._rebuild_tensor_v2), readable by torch.load(weights_only=True).
 * Entries are stored uncompressed, data records 64-byte aligned like torch's writer, with fixed
 * timestamps so the same tensors always give the same bytes.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32 } from './crc32';

export interface PthTensor {
  shape: number[];
  data: Float32Array;
}

/** nested dict: values are tensors or further dicts (e.g. {vae: {...}}) */
export type PthTree = { [k: string]: PthTree | PthTensor };

class PickleOut {
  private parts: number[] = [];
  private memo = 0;
  op(...b: number[]): this {
    this.parts.push(...b);
    return this;
  }
  u32(v: number): this {
    return this.op(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  }
  str(s: string): this {
    // BINUNICODE only: SHORT_BINUNICODE is protocol 4, which torch's weights_only loader refuses in a protocol-2 pickle
    const b = Buffer.from(s, 'utf8');
    this.op(0x58).u32(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.op(0x4b, v);
    if (v >= 0 && v < 65536) return this.op(0x4d, v & 255, v >> 8);
    return this.op(0x4a).u32(v >>> 0);
  }
  global(module: string, name: string): this {
    this.op(0x63);
    for (const x of Buffer.from(`${module}\n${name}\n`)) this.parts.push(x);
    return this;
  }
  put(): this {
    // BINPUT/LONG_BINPUT: torch's own writer memoizes; we do too so references stay unique
    const k = this.memo++;
    return k < 256 ? this.op(0x71, k) : this.op(0x72).u32(k);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function writePth(path: string, tree: PthTree, archiveName = 'archive'): void {
  const storages: Float32Array[] = [];
  const p = new PickleOut().op(0x80, 2);
  const writeTree = (t: PthTree) => {
    p.op(0x7d).put(); // EMPTY_DICT
    const keys = Object.keys(t);
    if (!keys.length) return;
    p.op(0x28); // MARK
    for (const k of keys) {
      p.str(k).put();
      const v = t[k];
      if (isTensor(v)) writeTensor(v);
      else writeTree(v);
    }
    p.op(0x75); // SETITEMS
  };
  const writeTensor = (v: PthTensor) => {
    const key = String(storages.length);
    storages.push(v.data);
    const stride: number[] = [];
    let s = 1;
    for (let i = v.shape.length - 1; i >= 0; i--) {
      stride[i] = s;
      s *= v.shape[i];
    }
    p.global('torch._utils', '_rebuild_tensor_v2').put();
    p.op(0x28); // MARK (args tuple)
    // persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
    p.op(0x28)
      .str('storage')
      .put()
      .global('torch', 'FloatStorage')
      .put()
      .str(key)
      .put()
      .str('cpu')
      .put()
      .int(v.data.length)
      .op(0x74)
      .put()
      .op(0x51);
    p.int(0);
    tuple(v.shape);
    tuple(stride);
    p.op(0x89); // requires_grad False
    p.global('collections', 'OrderedDict').put().op(0x29, 0x52).put(); // OrderedDict()
    p.op(0x74).put().op(0x52).put(); // TUPLE, REDUCE
  };
  const tuple = (xs: number[]) => {
    p.op(0x28);
    for (const x of xs) p.int(x);
    p.op(0x74).put();
  };
  writeTree(tree);
  p.op(0x2e);

  const files: { name: string; data: Uint8Array }[] = [
    { name: `${archiveName}/data.pkl`, data: p.bytes() },
    { name: `${archiveName}/byteorder`, data: Buffer.from('little') },
    ...storages.map((d, i) => ({ name: `${archiveName}/data/${i}`, data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) })),
    { name: `${archiveName}/version`, data: Buffer.from('3\n') },
    { name: `${archiveName}/.data/serialization_id`, data: Buffer.from('0000000000000000000000000000000000000000') },
  ];
  writeZipStored(path, files);
}

function isTensor(v: unknown): v is PthTensor {
  return !!v && typeof v === 'object' && (v as PthTensor).data instanceof Float32Array;
}

/** A stored (uncompressed) zip with 64-byte aligned data, zip64 when needed. */
function writeZipStored(path: string, files: { name: string; data: Uint8Array }[]): void {
  const fd = openSync(path, 'w');
  let off = 0;
  const write = (b: Uint8Array) => {
    writeSync(fd, b);
    off += b.length;
  };
  const central: Buffer[] = [];
  try {
    for (const f of files) {
      const name = Buffer.from(f.name);
      const headerStart = off;
      const baseLen = 30 + name.length;
      const zip64 = f.data.length >= 0xffffffff || headerStart >= 0xffffffff;
      const z64extra = zip64 ? 20 : 0;
      // pad with an extra field so the data starts on a 64-byte boundary (as torch does)
      let pad = (64 - ((headerStart + baseLen + z64extra + 4) % 64)) % 64;
      const extraLen = z64extra + 4 + pad;
      const crc = crc32(f.data);
      const h = Buffer.alloc(baseLen + extraLen);
      h.writeUInt32LE(0x04034b50, 0);
      h.writeUInt16LE(zip64 ? 45 : 20, 4);
      h.writeUInt16LE(0, 6);
      h.writeUInt16LE(0, 8); // stored
      h.writeUInt16LE(0, 10); // time
      h.writeUInt16LE(0x21, 12); // date 1980-01-01
      h.writeUInt32LE(crc, 14);
      h.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 18);
      h.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 22);
      h.writeUInt16LE(name.length, 26);
      h.writeUInt16LE(extraLen, 28);
      name.copy(h, 30);
      let e = 30 + name.length;
      if (zip64) {
        h.writeUInt16LE(0x0001, e);
        h.writeUInt16LE(16, e + 2);
        h.writeBigUInt64LE(BigInt(f.data.length), e + 4);
        h.writeBigUInt64LE(BigInt(f.data.length), e + 12);
        e += 20;
      }
      h.writeUInt16LE(0x5346, e); // torch's 'FS' padding record id
      h.writeUInt16LE(pad, e + 2);
      write(h);
      write(f.data);
      const c64 = zip64 ? 28 : 0;
      const c = Buffer.alloc(46 + name.length + c64);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(zip64 ? 45 : 20, 4);
      c.writeUInt16LE(zip64 ? 45 : 20, 6);
      c.writeUInt16LE(0, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt16LE(0, 12);
      c.writeUInt16LE(0x21, 14);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 20);
      c.writeUInt32LE(zip64 ? 0xffffffff : f.data.length, 24);
      c.writeUInt16LE(name.length, 28);
      c.writeUInt16LE(c64, 30);
      c.writeUInt32LE(zip64 ? 0xffffffff : headerStart, 42);
      name.copy(c, 46);
      if (zip64) {
        const q = 46 + name.length;
        c.writeUInt16LE(0x0001, q);
        c.writeUInt16LE(24, q + 2);
        c.writeBigUInt64LE(BigInt(f.data.length), q + 4);
        c.writeBigUInt64LE(BigInt(f.data.length), q + 12);
        c.writeBigUInt64LE(BigInt(headerStart), q + 20);
      }
      central.push(c);
      pad = 0;
    }
    const cdStart = off;
    for (const c of central) write(c);
    const cdSize = off - cdStart;
    if (cdStart >= 0xffffffff || files.length >= 0xffff) {
      const z = Buffer.alloc(56 + 20);
      z.writeUInt32LE(0x06064b50, 0);
      z.writeBigUInt64LE(44n, 4);
      z.writeUInt16LE(45, 12);
      z.writeUInt16LE(45, 14);
      z.writeBigUInt64LE(BigInt(files.length), 24);
      z.writeBigUInt64LE(BigInt(files.length), 32);
      z.writeBigUInt64LE(BigInt(cdSize), 40);
      z.writeBigUInt64LE(BigInt(cdStart), 48);
      z.writeUInt32LE(0x07064b50, 56);
      z.writeBigUInt64LE(BigInt(off), 64);
      z.writeUInt32LE(1, 72);
      write(z);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Math.min(files.length, 0xffff), 8);
    end.writeUInt16LE(Math.min(files.length, 0xffff), 10);
    end.writeUInt32LE(Math.min(cdSize, 0xffffffff), 12);
    end.writeUInt32LE(Math.min(cdStart, 0xffffffff), 16);
    write(end);
  } finally {
    closeSync(fd);
  }
}
