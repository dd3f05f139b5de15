/** What every checkpoint reader exposes: tensors by their state_dict names, read lazily from disk. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface CheckpointReader {
  readonly path: string;
  readonly format: 'pth' | 'safetensors' | 'sharded';
  keys(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** the tensor converted to float32 (contiguous, row-major) */
  readFloat32(name: string): Float32Array;
  /** tensor bytes read from disk so far (tensor data only), so tests can see what was touched */
  readonly bytesRead: number;
  close(): void;
}

export const DTYPE_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Convert little-endian raw elements to float32. */
export function toFloat32(raw: Uint8Array, dtype: DType, count: number): Float32Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'float32':
      if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + count * 4));
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case 'float16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    case 'bfloat16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = dv.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'float64':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'int64':
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      return out;
    case 'int32':
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    case 'int16':
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    case 'int8':
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return out;
    case 'uint8':
    case 'bool':
      for (let i = 0; i < count; i++) out[i] = raw[i];
      return out;
  }
}

/** Named float32 tensors, as the graph builders read weights: a checkpoint (CheckpointWeights) or memory (MapWeights). */
export interface WeightSource {
  /** a short description for error messages (file path, 'memory') */
  readonly origin: string;
  names(): string[];
  has(name: string): boolean;
  shape(name: string): number[];
  /** float32 copy of the tensor, converted from fp16/bf16/fp64 where needed */
  get(name: string): Float32Array;
}
