/**
 * PyTorch .pth / .bin files (torch.save's zip format): the pickle names the tensors and the zip holds
 * one uncompressed record per storage, so a tensor is read straight from its byte range on disk.
 * Nested dicts ({"vae": sd}, {"trainer": {...}}) flatten to dotted names.
 */
import { ScaleKVError } from '../shared/errors';
import { FileRange } from './fileRange';
import { unpickleChecked, type TensorRef } from './pickle';
import { DTYPE_SIZE, toFloat32, type CheckpointReader, type TensorInfo } from './types';
import { entryDataOffset, readEntry, readZipDirectory, type ZipEntry } from './zip';

export class PthReader implements CheckpointReader {
  readonly format = 'pth' as const;
  private readonly tensors = new Map<string, TensorRef>();
  private readonly entries: Map<string, ZipEntry>;
  private readonly prefix: string;
  private file: FileRange;
  bytesRead = 0;

  constructor(readonly path: string) {
    this.file = new FileRange(path);
    try {
      const magic = this.file.read(0, Math.min(4, this.file.size), 'the file signature');
      if (magic.length < 4 || !(magic[0] === 0x50 && magic[1] === 0x4b)) {
        if (magic[0] === 0x80) {
          throw new ScaleKVError(
            'E_CHECKPOINT_CORRUPT',
            `${path} uses PyTorch's legacy (pre-1.6) format; re-save it with torch.save in a current PyTorch.`,
          );
        }
        throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is not a PyTorch checkpoint (no zip signature).`);
      }
      this.entries = readZipDirectory(this.file);
      const pkl = [...this.entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
      if (!pkl) throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} has no data.pkl: not a torch.save archive.`);
      this.prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
      const pickle = readEntry(this.file, this.entries.get(pkl)!);
      const { root, refusedGlobals } = unpickleChecked(pickle, path);
      flatten(root, path, pickle.length, this.tensors);
      if (this.tensors.size === 0) {
        // like torch.load(weights_only=True): name what the file asked to run, so the user knows why
        const named = `${refusedGlobals.slice(0, 5).join(', ')}${refusedGlobals.length > 5 ? ', ...' : ''}`;
        const why = refusedGlobals.length
          ? ` It asks to call ${named}, which ScaleKV never runs: this is not a plain state_dict, and may be hostile.`
          : '';
        throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} holds no tensors.${why}`);
      }
    } catch (e) {
      this.file.close();
      throw e;
    }
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  private ref(name: string): TensorRef {
    const t = this.tensors.get(name);
    if (!t) throw new ScaleKVError('E_SHAPE_MISMATCH', `Tensor '${name}' is not in ${this.path}.`);
    return t;
  }

  info(name: string): TensorInfo {
    const t = this.ref(name);
    return { name, dtype: t.storage.dtype, shape: t.shape };
  }

  readFloat32(name: string): Float32Array {
    const t = this.ref(name);
    const el = DTYPE_SIZE[t.storage.dtype];
    const entry = this.entries.get(`${this.prefix}data/${t.storage.key}`);
    if (!entry)
      throw new ScaleKVError(
        'E_CHECKPOINT_CORRUPT',
        `${this.path}: storage ${t.storage.key} of tensor '${name}' is missing from the archive.`,
      );
    if (entry.method !== 0)
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${this.path}: storage of '${name}' is compressed, which torch never writes.`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    // the span of storage elements this (possibly strided) view touches
    let maxOff = 0;
    for (let i = 0; i < t.shape.length; i++) if (t.shape[i] > 0) maxOff += (t.shape[i] - 1) * t.stride[i];
    const span = count === 0 ? 0 : maxOff + 1;
    if (!Number.isSafeInteger(span) || (t.offset + span) * el > entry.size) {
      throw new ScaleKVError(
        'E_CHECKPOINT_CORRUPT',
        `${this.path}: tensor '${name}' reaches past its storage (${(t.offset + span) * el} > ${entry.size} bytes).`,
      );
    }
    // a stride-0 view repeats storage elements: a 4-byte storage could then claim gigabytes of output.
    // Weights never do this, so the view may hold at most as many elements as its storage, checked
    // before anything is allocated.
    if (count * el > entry.size) {
      throw new ScaleKVError(
        'E_CHECKPOINT_CORRUPT',
        `${this.path}: tensor '${name}' of shape [${t.shape}] claims ${count} elements from a storage of ${entry.size / el} ` +
          `(strides [${t.stride}]): it repeats storage elements, which weights never do.`,
      );
    }
    const base = entryDataOffset(this.file, entry) + t.offset * el;
    const raw = this.file.read(base, span * el, `tensor '${name}'`);
    this.bytesRead += raw.length;
    const flat = toFloat32(raw, t.storage.dtype, span);
    if (isContiguous(t.shape, t.stride)) return flat.length === count ? flat : flat.slice(0, count);
    return gatherStrided(flat, t.shape, t.stride);
  }

  close(): void {
    this.file.close();
  }
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== s) return false;
    s *= shape[i];
  }
  return true;
}

function gatherStrided(src: Float32Array, shape: number[], stride: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let k = 0; k < shape.length; k++) off += idx[k] * stride[k];
    out[i] = src[off];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Nesting deeper than this is no state_dict (Infinity's is 4 levels); it would also overflow the stack. */
const MAX_DEPTH = 32;

/**
 * Names every tensor by its path of keys. A pickle can share one container under many keys, so the
 * tree it describes can be exponentially larger than the file ("billion laughs"), or contain itself:
 * containers on the current path are refused as cycles, and the walk may visit at most one node per
 * byte of pickle and build names of at most 16 characters per byte (a real state_dict spends dozens of
 * bytes on each tensor and its name).
 */
function flatten(root: unknown, path: string, pickleBytes: number, out: Map<string, TensorRef>): void {
  const budget = Math.max(4096, pickleBytes);
  const charBudget = Math.max(1 << 20, 16 * pickleBytes);
  let visits = 0;
  let chars = 0;
  const onPath = new Set<unknown>();
  const walk = (v: unknown, prefix: string, depth: number): void => {
    chars += prefix.length;
    if (++visits > budget || chars > charBudget) {
      throw new ScaleKVError(
        'E_CHECKPOINT_CORRUPT',
        `${path}: its pickle describes more entries than its ${pickleBytes} bytes can hold ` +
          '(the same containers are referenced over and over): not a state_dict, and possibly hostile.',
      );
    }
    if (v && typeof v === 'object' && (v as TensorRef).kind === 'tensor') {
      out.set(prefix, v as TensorRef);
      return;
    }
    if (!(v instanceof Map) && !Array.isArray(v)) return;
    if (onPath.has(v)) throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path}: the entry '${prefix}' contains itself: not a state_dict.`);
    if (depth >= MAX_DEPTH) {
      throw new ScaleKVError(
        'E_CHECKPOINT_CORRUPT',
        `${path}: entries are nested more than ${MAX_DEPTH} levels deep (at '${prefix}'): not a state_dict.`,
      );
    }
    onPath.add(v);
    if (v instanceof Map) for (const [k, x] of v) walk(x, prefix ? `${prefix}.${String(k)}` : String(k), depth + 1);
    else v.forEach((x, i) => walk(x, prefix ? `${prefix}.${i}` : String(i), depth + 1));
    onPath.delete(v);
  };
  walk(root, '', 0);
}
