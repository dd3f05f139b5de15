/**
 * A restricted unpickler for torch.save's data.pkl: it builds plain values, dicts, lists and tuples,
 * and recognises only the few callables torch uses to rebuild tensors. Nothing is ever executed: any
 * other global becomes an inert placeholder, so a hostile pickle cannot run code here. The globals a
 * pickle asked to call are remembered so that a file holding no tensors can say what it tried to run.
 * Work is linear in the pickle's length: integers are bounded, tensor shapes, strides and offsets are
 * checked where the tensor is rebuilt, and nothing is copied per reference.
 */
import { ScaleKVError } from '../shared/errors';
import type { DType } from './types';

export interface PickleGlobal {
  kind: 'global';
  module: string;
  name: string;
}

export interface StorageRef {
  kind: 'storage';
  dtype: DType;
  key: string;
  location: string;
  numel: number;
}

export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

/** Result of calling a global we do not know: kept for error messages only. */
export interface Opaque {
  kind: 'opaque';
  global: PickleGlobal;
  args: unknown;
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

const TORCH_DTYPES: Record<string, DType> = {
  float32: 'float32',
  float: 'float32',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  float64: 'float64',
  double: 'float64',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/**
 * Pickle opcodes by CPython's pickletools names: those torch.save writes, which the reader runs, and a
 * few it refuses, so an error names them.
 */
const OP = {
  MARK: 0x28, // the start of a tuple, list, dict or run of items
  EMPTY_TUPLE: 0x29,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  BINFLOAT: 0x47,
  INT: 0x49, // decimal text line
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c, // decimal text line
  BININT2: 0x4d,
  NONE: 0x4e,
  PERSID: 0x50, // refused
  BINPERSID: 0x51,
  REDUCE: 0x52,
  STRING: 0x53, // refused
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56, // refused
  BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  APPENDS: 0x65,
  GET: 0x67, // refused
  BINGET: 0x68,
  INST: 0x69, // refused
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  OBJ: 0x6f, // refused
  PUT: 0x70, // refused
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  SETITEMS: 0x75,
  EMPTY_DICT: 0x7d,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91, // refused
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;
const OP_NAME: Record<number, string> = Object.fromEntries(Object.entries(OP).map(([n, v]) => [v, n]));

const MARK = Symbol('mark');

/** Callables torch.save's pickles use; any other is "refused" (kept inert, and named in errors). */
const KNOWN_CALLS = new Set([
  'collections.OrderedDict',
  'builtins.dict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch.Size',
]);

/** Python ints in a state_dict are shapes, offsets and counts: 8 bytes; LONG1/LONG4 allow any length. */
const MAX_INT_BYTES = 16;
/** torch tensors have at most a few dozen dimensions */
const MAX_DIMS = 64;

export interface Unpickled {
  root: unknown;
  /** 'module.name' of every global the pickle called that is not a tensor-rebuilding one */
  refusedGlobals: string[];
}

export function unpickleChecked(data: Uint8Array, origin: string): Unpickled {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder();
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const refused = new Set<string>();
  let p = 0;
  const bad = (m: string) => new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: corrupt pickle (${m} at byte ${p}).`);
  const need = (n: number) => {
    if (p + n > data.length) throw bad('unexpected end of data');
  };
  const u8 = () => {
    need(1);
    return data[p++];
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  const bytes = (n: number) => {
    need(n);
    const b = data.subarray(p, p + n);
    p += n;
    return b;
  };
  const line = () => {
    const e = data.indexOf(0x0a, p);
    if (e < 0) throw bad('unterminated line');
    const s = dec.decode(data.subarray(p, e));
    p = e + 1;
    return s;
  };
  const pop = () => {
    if (!stack.length) throw bad('stack underflow');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw bad('missing MARK');
    const items = stack.splice(i + 1);
    stack.pop();
    return items;
  };
  const top = () => {
    if (!stack.length) throw bad('stack underflow');
    return stack[stack.length - 1];
  };
  const setItems = (target: unknown, kv: unknown[]) => {
    if (!(target instanceof Map)) throw bad('SETITEM(S) on a non-dict');
    for (let i = 0; i + 1 < kv.length; i += 2) target.set(kv[i], kv[i + 1]);
  };
  const extend = (target: unknown, items: unknown[], op: string) => {
    if (!Array.isArray(target)) throw bad(`${op} on a non-list`);
    // one at a time: push(...items) overflows the call stack past ~100k items
    for (const x of items) target.push(x);
  };
  const global = (module: unknown, name: unknown): PickleGlobal => {
    if (typeof module !== 'string' || typeof name !== 'string') throw bad('a global whose module or name is not text');
    return { kind: 'global', module, name };
  };
  /** a non-negative integer that fits a double exactly (shapes, strides, offsets, element counts) */
  const count = (v: unknown, what: string): number => {
    const n = typeof v === 'boolean' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: ${what} is ${describe(v)}; it must be a non-negative integer.`);
    }
    return n;
  };
  const counts = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v)) throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: ${what} is ${describe(v)}, not a tuple of integers.`);
    if (v.length > MAX_DIMS) {
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: ${what} has ${v.length} dimensions (at most ${MAX_DIMS}).`);
    }
    return v.map((x, i) => count(x, `${what}[${i}]`));
  };
  const rebuildTensor = (a: unknown[]): TensorRef => {
    const [storage, offset, size, stride] = a;
    if (!storage || (storage as StorageRef).kind !== 'storage') throw bad('tensor without storage');
    const shape = counts(size, 'a tensor shape');
    const strides = counts(stride, 'a tensor stride');
    if (strides.length !== shape.length) {
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: a tensor of shape [${shape}] has ${strides.length} strides [${strides}].`);
    }
    if (!Number.isSafeInteger(shape.reduce((x, y) => x * y, 1))) {
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: a tensor of shape [${shape}] has more elements than any file can hold.`);
    }
    return { kind: 'tensor', storage: storage as StorageRef, offset: count(offset, 'a tensor storage offset'), shape, stride: strides };
  };

  const call = (fn: unknown, args: unknown): unknown => {
    if (!fn || (fn as PickleGlobal).kind !== 'global') throw bad('REDUCE on a non-callable');
    const g = fn as PickleGlobal;
    const full = `${g.module}.${g.name}`;
    if (!KNOWN_CALLS.has(full)) {
      refused.add(full);
      return { kind: 'opaque', global: g, args };
    }
    if (!Array.isArray(args)) throw bad(`${full} called without an argument tuple`);
    if (full === 'collections.OrderedDict' || full === 'builtins.dict') return new Map();
    if (full === 'torch._utils._rebuild_tensor_v2' || full === 'torch._utils._rebuild_tensor') return rebuildTensor(args);
    return args[0]; // _rebuild_parameter(tensor, ...), torch.Size(tuple)
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case OP.PROTO:
        u8();
        break;
      case OP.FRAME:
        bytes(8);
        break;
      case OP.STOP:
        return { root: pop(), refusedGlobals: [...refused] };
      case OP.MARK:
        stack.push(MARK);
        break;
      case OP.EMPTY_DICT:
        stack.push(new Map());
        break;
      case OP.EMPTY_LIST:
        stack.push([]);
        break;
      case OP.EMPTY_TUPLE:
        stack.push([]);
        break;
      case OP.EMPTY_SET:
        stack.push([]);
        break;
      case OP.NONE:
        stack.push(null);
        break;
      case OP.NEWTRUE:
        stack.push(true);
        break;
      case OP.NEWFALSE:
        stack.push(false);
        break;
      case OP.BININT1:
        stack.push(u8());
        break;
      case OP.BININT2:
        stack.push(u16());
        break;
      case OP.BININT:
        need(4);
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case OP.LONG1:
      case OP.LONG4: {
        const n = op === OP.LONG1 ? u8() : u32();
        // BigInt shifting is quadratic in the length: a 300 KB integer took minutes
        if (n > MAX_INT_BYTES) throw bad(`an integer of ${n} bytes (a checkpoint's integers fit in 8)`);
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        break;
      }
      case OP.INT: {
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number(s));
        break;
      }
      case OP.LONG: {
        const s = line();
        if (s.length > 3 * MAX_INT_BYTES) throw bad(`an integer of ${s.length} digits`);
        stack.push(Number(s.replace(/L$/, '')));
        break;
      }
      case OP.BINFLOAT: // big endian
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case OP.SHORT_BINUNICODE:
        stack.push(dec.decode(bytes(u8())));
        break;
      case OP.BINUNICODE:
        stack.push(dec.decode(bytes(u32())));
        break;
      case OP.BINUNICODE8:
        need(8);
        stack.push(dec.decode(bytes(Number(dv.getBigUint64((p += 8) - 8, true)))));
        break;
      case OP.SHORT_BINSTRING:
        stack.push(dec.decode(bytes(u8())));
        break;
      case OP.BINSTRING:
        stack.push(dec.decode(bytes(u32())));
        break;
      case OP.SHORT_BINBYTES:
        stack.push(bytes(u8()).slice());
        break;
      case OP.BINBYTES:
        stack.push(bytes(u32()).slice());
        break;
      case OP.BINBYTES8:
        need(8);
        stack.push(bytes(Number(dv.getBigUint64((p += 8) - 8, true))).slice());
        break;
      case OP.BINPUT:
        memo.set(u8(), top());
        break;
      case OP.LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case OP.MEMOIZE:
        memo.set(memo.size, top());
        break;
      case OP.BINGET:
      case OP.LONG_BINGET: {
        const k = op === OP.BINGET ? u8() : u32();
        if (!memo.has(k)) throw bad(`memo key ${k} missing`);
        stack.push(memo.get(k));
        break;
      }
      case OP.GLOBAL: {
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case OP.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        stack.push(global(module, name));
        break;
      }
      case OP.TUPLE:
        stack.push(popMark());
        break;
      case OP.TUPLE1:
        stack.push([pop()]);
        break;
      case OP.TUPLE2: {
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case OP.TUPLE3: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case OP.LIST:
        stack.push(popMark());
        break;
      case OP.DICT: {
        const kv = popMark();
        const m = new Map();
        setItems(m, kv);
        stack.push(m);
        break;
      }
      case OP.APPEND: {
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) throw bad('APPEND on a non-list');
        l.push(v);
        break;
      }
      case OP.APPENDS: {
        const items = popMark();
        extend(top(), items, 'APPENDS');
        break;
      }
      case OP.ADDITEMS: {
        const items = popMark();
        extend(top(), items, 'ADDITEMS');
        break;
      }
      case OP.SETITEM: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case OP.SETITEMS: {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case OP.REDUCE: {
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case OP.NEWOBJ: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case OP.NEWOBJ_EX: {
        pop();
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case OP.BUILD: // state of objects we keep as plain data (OrderedDict metadata, ...) is dropped
        pop();
        break;
      case OP.BINPERSID: {
        // BINPERSID: ('storage', storage_type, key, location, numel)
        const pid = pop() as unknown[];
        if (!Array.isArray(pid) || pid[0] !== 'storage') throw bad('unknown persistent id');
        const st = pid[1] as PickleGlobal | Opaque;
        let dtype: DType | undefined;
        if (st && (st as PickleGlobal).kind === 'global') {
          const g = st as PickleGlobal;
          dtype = STORAGE_DTYPES[g.name] ?? (g.module === 'torch' ? TORCH_DTYPES[g.name] : undefined);
        }
        if (!dtype) throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${origin}: unsupported tensor storage type ${describe(st)}.`);
        if (typeof pid[2] !== 'string' || !/^[\w.-]+$/.test(pid[2])) throw bad(`storage key ${describe(pid[2])} is not a record name`);
        const numel = count(pid[4], `the element count of storage ${pid[2]}`);
        stack.push({ kind: 'storage', dtype, key: pid[2], location: String(pid[3]), numel });
        break;
      }
      case OP.POP:
        pop();
        break;
      case OP.POP_MARK:
        popMark();
        break;
      case OP.DUP:
        stack.push(top());
        break;
      default:
        throw bad(`unsupported opcode 0x${op.toString(16)}${op in OP_NAME ? ` (${OP_NAME[op]})` : ''}`);
    }
  }
}

/** A pickled value in words, for error messages (never more than a short line). */
function describe(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return `a tuple of ${v.length}`;
  if (v instanceof Map) return 'a dict';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  const k = (v as { kind?: string }).kind;
  if (k === 'global') return `the global ${(v as PickleGlobal).module}.${(v as PickleGlobal).name}`;
  if (k === 'opaque') return `the result of ${(v as Opaque).global.module}.${(v as Opaque).global.name}(...)`;
  if (k === 'tensor') return 'a tensor';
  if (k === 'storage') return 'a storage';
  return 'an object';
}
