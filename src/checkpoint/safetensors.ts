/**
 * safetensors: an 8-byte little-endian header length, a JSON header of {name: {dtype, shape,
 * data_offsets}}, then the raw tensor bytes. Read lazily per tensor; written for the tiny model.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ScaleKVError } from '../shared/errors';
import { FileRange } from './fileRange';
import { DTYPE_SIZE, toFloat32, type CheckpointReader, type DType, type TensorInfo } from './types';

const ST_DTYPES: Record<string, DType> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const ST_NAMES = Object.fromEntries(Object.entries(ST_DTYPES).map(([k, v]) => [v, k])) as Record<DType, string>;

interface Entry {
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export class SafetensorsReader implements CheckpointReader {
  readonly format = 'safetensors' as const;
  private file: FileRange;
  private readonly entries = new Map<string, Entry>();
  readonly metadata: Record<string, string> = {};
  bytesRead = 0;

  constructor(readonly path: string) {
    this.file = new FileRange(path);
    try {
      if (this.file.size < 8)
        throw new ScaleKVError('E_CHECKPOINT_TRUNCATED', `${path} is only ${this.file.size} bytes: too short for safetensors.`);
      const n = Number(new DataView(this.file.read(0, 8, 'the header length').buffer).getBigUint64(0, true));
      if (n > 100_000_000) throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path}: safetensors header length ${n} is not plausible.`);
      if (8 + n > this.file.size)
        throw new ScaleKVError(
          'E_CHECKPOINT_TRUNCATED',
          `${path} is truncated: its header needs ${8 + n} bytes, the file has ${this.file.size}.`,
        );
      let header: unknown;
      try {
        header = JSON.parse(new TextDecoder().decode(this.file.read(8, n, 'the header')));
      } catch (e) {
        if (e instanceof ScaleKVError) throw e;
        throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path}: the safetensors header is not valid JSON.`);
      }
      if (!header || typeof header !== 'object' || Array.isArray(header)) {
        throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path}: the safetensors header is not a JSON object of tensors.`);
      }
      const base = 8 + n;
      const dataBytes = this.file.size - base;
      for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          if (v && typeof v === 'object' && !Array.isArray(v)) {
            for (const [k, x] of Object.entries(v)) if (typeof x === 'string') this.metadata[k] = x;
          }
          continue;
        }
        const e = parseEntry(path, name, v, dataBytes);
        this.entries.set(name, { ...e, begin: base + e.begin, end: base + e.end });
      }
      refuseOverlaps(path, this.entries);
    } catch (e) {
      this.file.close();
      throw e;
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
  has(name: string): boolean {
    return this.entries.has(name);
  }
  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new ScaleKVError('E_SHAPE_MISMATCH', `Tensor '${name}' is not in ${this.path}.`);
    return e;
  }
  info(name: string): TensorInfo {
    const e = this.entry(name);
    return { name, dtype: e.dtype, shape: e.shape };
  }
  readFloat32(name: string): Float32Array {
    const e = this.entry(name);
    const raw = this.file.read(e.begin, e.end - e.begin, `tensor '${name}'`);
    this.bytesRead += raw.length;
    return toFloat32(raw, e.dtype, (e.end - e.begin) / DTYPE_SIZE[e.dtype]);
  }
  close(): void {
    this.file.close();
  }
}

/** One header entry, checked: dtype known, shape of non-negative integers, offsets inside the data area. */
function parseEntry(path: string, name: string, v: unknown, dataBytes: number): Entry {
  const bad = (why: string) => new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path}: tensor '${name}' ${why}.`);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('has no {dtype, shape, data_offsets} entry');
  const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const dtype = ST_DTYPES[String(e.dtype)];
  if (!dtype) throw bad(`has unsupported dtype ${JSON.stringify(e.dtype)}`);
  if (!Array.isArray(e.shape) || e.shape.length > 64 || !e.shape.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw bad(`has shape ${JSON.stringify(e.shape)}; a shape is a list of non-negative integers`);
  }
  const shape = e.shape as number[];
  const count = shape.reduce((a, x) => a * x, 1);
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((x) => Number.isSafeInteger(x) && x >= 0) || offs[1] < offs[0]) {
    throw bad(`has data_offsets ${JSON.stringify(offs)}; they must be two non-negative integers [begin, end] with begin <= end`);
  }
  const [begin, end] = offs as [number, number];
  if (end - begin !== count * DTYPE_SIZE[dtype]) throw bad(`has offsets ${JSON.stringify(offs)} that do not fit its shape [${shape}]`);
  if (end > dataBytes) {
    throw new ScaleKVError(
      'E_CHECKPOINT_TRUNCATED',
      `${path} is truncated: tensor '${name}' ends at byte ${end} of the data, which has ${dataBytes}.`,
    );
  }
  return { dtype, shape, begin, end };
}

/** Two tensors sharing bytes would make writing one change the other: the format forbids it. */
function refuseOverlaps(path: string, entries: Map<string, Entry>): void {
  const sorted = [...entries].filter(([, e]) => e.end > e.begin).sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < sorted.length; i++) {
    const [pn, p] = sorted[i - 1];
    const [qn, q] = sorted[i];
    if (q.begin < p.end) {
      throw new ScaleKVError(
        'E_CHECKPOINT_CORRUPT',
        `${path}: tensors '${pn}' and '${qn}' overlap in the data area (bytes ${q.begin}..${Math.min(p.end, q.end)}).`,
      );
    }
  }
}

export interface TensorToWrite {
  name: string;
  dtype: 'float32';
  shape: number[];
  data: Float32Array;
}

/** Writes tensors in name order (deterministic bytes), streaming each tensor to the file. */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of sorted) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`writeSafetensors: ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    header[t.name] = { dtype: ST_NAMES[t.dtype], shape: t.shape, data_offsets: [off, off + n * 4] };
    off += n * 4;
  }
  let json = JSON.stringify(header);
  // the format asks for the data to start 8-byte aligned: pad the header with spaces
  while ((8 + Buffer.byteLength(json)) % 8) json += ' ';
  const hb = Buffer.from(json);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, hb);
    for (const t of sorted) writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    closeSync(fd);
  }
}
