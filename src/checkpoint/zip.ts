/**
 * Zip central-directory reader (with zip64) for torch.save archives: finds each entry's data offset
 * so tensor storages, which torch stores uncompressed, can be read in place.
 */
import { inflateRawSync } from 'node:zlib';
import { ScaleKVError } from '../shared/errors';
import type { FileRange } from './fileRange';

export interface ZipEntry {
  name: string;
  method: number; // 0 stored, 8 deflate
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** resolved lazily from the local header */
  dataOffset?: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function corrupt(f: FileRange, msg: string): ScaleKVError {
  return new ScaleKVError('E_CHECKPOINT_CORRUPT', `${f.path} is not a readable checkpoint archive: ${msg}.`);
}

export function readZipDirectory(f: FileRange): Map<string, ZipEntry> {
  if (f.size < 22) throw new ScaleKVError('E_CHECKPOINT_TRUNCATED', `${f.path} is only ${f.size} bytes: too short to be a checkpoint.`);
  const tailLen = Math.min(f.size, 65535 + 22);
  const tail = f.read(f.size - tailLen, tailLen, 'the end-of-archive record');
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    // a zip whose end is missing: the usual sign of an interrupted download or copy
    const head = f.read(0, 4, 'the file signature');
    if (new DataView(head.buffer).getUint32(0, true) === LOCAL) {
      throw new ScaleKVError(
        'E_CHECKPOINT_TRUNCATED',
        `${f.path} is truncated: it starts like a zip archive but its directory at the end is missing.`,
      );
    }
    throw corrupt(f, 'no zip end-of-archive record');
  }
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  const locAt = eocd - 20;
  if (locAt >= 0 && tv.getUint32(locAt, true) === EOCD64_LOCATOR) {
    const eocd64Off = Number(tv.getBigUint64(locAt + 8, true));
    const r = f.read(eocd64Off, 56, 'the zip64 end record');
    const rv = new DataView(r.buffer);
    if (rv.getUint32(0, true) !== EOCD64) throw corrupt(f, 'bad zip64 end record');
    count = Number(rv.getBigUint64(32, true));
    cdSize = Number(rv.getBigUint64(40, true));
    cdOffset = Number(rv.getBigUint64(48, true));
  }
  if (cdOffset + cdSize > f.size) {
    throw new ScaleKVError('E_CHECKPOINT_TRUNCATED', `${f.path} is truncated: its directory points past the end of the file.`);
  }
  const cd = f.read(cdOffset, cdSize, 'the zip directory');
  const dv = new DataView(cd.buffer);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  const dec = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || dv.getUint32(p, true) !== CENTRAL) throw corrupt(f, `bad directory entry ${i}`);
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw corrupt(f, `directory entry ${i} runs past the directory`);
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: only the fields that overflowed are present, in this order
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (e + 4 + len > eEnd) throw corrupt(f, `the extra field of ${name} runs past its entry`);
      if (id === 0x0001) {
        let q = e + 4;
        const wanted = 8 * [size, compressedSize, localHeaderOffset].filter((x) => x === 0xffffffff).length;
        if (wanted > len) throw corrupt(f, `the zip64 field of ${name} is ${len} bytes, ${wanted} are needed`);
        if (size === 0xffffffff) {
          size = Number(dv.getBigUint64(q, true));
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(dv.getBigUint64(q, true));
          q += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(dv.getBigUint64(q, true));
      }
      e += 4 + len;
    }
    // stored entries are read in place by their declared size: a size that differs from the bytes
    // stored would let a tensor read its neighbour's bytes (a wrong image, no error)
    if (method === 0 && compressedSize !== size) {
      throw corrupt(f, `stored entry ${name} declares ${size} bytes but holds ${compressedSize}`);
    }
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
    p = eEnd + commentLen;
  }
  return entries;
}

export function entryDataOffset(f: FileRange, e: ZipEntry): number {
  if (e.dataOffset === undefined) {
    const h = f.read(e.localHeaderOffset, 30, `the header of ${e.name}`);
    const hv = new DataView(h.buffer);
    if (hv.getUint32(0, true) !== LOCAL) throw corrupt(f, `bad local header for ${e.name}`);
    e.dataOffset = e.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
  }
  if (e.dataOffset + e.compressedSize > f.size) {
    throw new ScaleKVError(
      'E_CHECKPOINT_TRUNCATED',
      `${f.path} is truncated: entry ${e.name} ends at byte ${e.dataOffset + e.compressedSize}, the file has ${f.size}.`,
    );
  }
  return e.dataOffset;
}

/**
 * The most a small entry (data.pkl) may inflate to: twice the archive, and never less than 16 MB
 * (torch stores data.pkl uncompressed; a re-zipped 8B checkpoint's pickle is well under 1 MB).
 */
function inflateLimit(f: FileRange): number {
  return Math.max(16 * 1024 * 1024, 2 * f.size);
}

/** Whole entry contents (small entries: data.pkl, version, index json). */
export function readEntry(f: FileRange, e: ZipEntry): Uint8Array {
  if (e.method !== 0 && e.method !== 8) throw corrupt(f, `entry ${e.name} uses unsupported compression method ${e.method}`);
  // the declared size is checked before anything is read or inflated, so a bomb allocates nothing
  const limit = inflateLimit(f);
  if (e.size > limit) throw corrupt(f, `entry ${e.name} declares ${e.size} bytes, more than ${limit} (twice the archive)`);
  const off = entryDataOffset(f, e);
  const raw = f.read(off, e.compressedSize, e.name);
  if (e.method === 0) return raw;
  let out: Buffer;
  try {
    // maxOutputLength stops zlib at the declared size (+1 to notice an entry that inflates past it)
    out = inflateRawSync(raw, { maxOutputLength: e.size + 1 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw corrupt(f, `entry ${e.name} inflates past its declared ${e.size} bytes`);
    throw corrupt(f, `entry ${e.name} does not inflate (${(err as Error).message})`);
  }
  if (out.length !== e.size) throw corrupt(f, `entry ${e.name} inflates to ${out.length} bytes, not its declared ${e.size}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
