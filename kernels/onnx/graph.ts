/**
 * A small builder for ONNX graphs. Every compute graph the engine runs (text encoder, conditioning,
 * transformer block step, head, VAE decoder, cache gather) is written with it from a model config
 * and weights; nothing is exported from PyTorch.
 */
import { AttrType, type ElemType, ProtoWriter, TensorDataType } from './proto';

export type Dim = number | string;
export type AttrValue = number | string | number[] | { floats: number[] } | { tensor: ConstTensor } | { int: number } | { f: number };

export interface ConstTensor {
  dtype: ElemType;
  dims: number[];
  /** little-endian raw bytes */
  raw: Uint8Array;
}

interface NodeDef {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain?: string;
  name: string;
}

interface ValueDef {
  name: string;
  dtype: ElemType;
  shape?: Dim[];
}

/** Float32Array / Int32Array / BigInt64Array → little-endian bytes without copying on LE hosts. */
export function rawBytes(a: Float32Array | Int32Array | BigInt64Array | Uint8Array | Float64Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class Graph {
  private nodes: NodeDef[] = [];
  private inputs: ValueDef[] = [];
  private outputs: ValueDef[] = [];
  private inits: { name: string; t: ConstTensor }[] = [];
  private counter = 0;
  private initNames = new Set<string>();

  constructor(readonly name: string) {}

  fresh(hint = 't'): string {
    return `${hint}_${this.counter++}`;
  }

  /** shape null: any shape */
  input(name: string, dtype: ElemType, shape: Dim[] | null): string {
    this.inputs.push({ name, dtype, shape: shape ?? undefined });
    return name;
  }

  output(name: string, dtype: ElemType = 'float32', shape?: Dim[] | null): string {
    this.outputs.push({ name, dtype, shape: shape ?? undefined });
    return name;
  }

  /** Route an existing value to a named graph output through Identity. */
  outputAs(value: string, name: string, dtype: ElemType = 'float32', shape?: Dim[] | null): string {
    this.op('Identity', [value], {}, [name]);
    return this.output(name, dtype, shape);
  }

  initializer(name: string, dtype: ElemType, dims: number[], raw: Uint8Array): string {
    if (this.initNames.has(name)) throw new Error(`initializer ${name} defined twice`);
    const expected = dims.reduce((a, b) => a * b, 1) * elemSize(dtype);
    if (raw.byteLength !== expected) {
      throw new Error(`initializer ${name}: ${raw.byteLength} bytes for dims [${dims}] of ${dtype} (expected ${expected})`);
    }
    this.initNames.add(name);
    this.inits.push({ name, t: { dtype, dims, raw } });
    return name;
  }

  weight(name: string, data: Float32Array, dims: number[]): string {
    return this.initializer(name, 'float32', dims, rawBytes(data));
  }

  constF(values: number[] | Float32Array, dims?: number[], hint = 'cf'): string {
    const a = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.initializer(this.fresh(hint), 'float32', dims ?? [a.length], rawBytes(a));
  }

  /** A scalar float constant (rank 0). */
  scalarF(v: number): string {
    return this.initializer(this.fresh('sf'), 'float32', [], rawBytes(Float32Array.of(v)));
  }

  constI64(values: number[], dims?: number[], hint = 'ci'): string {
    const a = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.initializer(this.fresh(hint), 'int64', dims ?? [a.length], rawBytes(a));
  }

  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs?: string[] | number, domain?: string): string {
    const outs = this.opN(op, inputs, attrs, outputs ?? 1, domain);
    return outs[0];
  }

  opN(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs: string[] | number = 1, domain?: string): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(op.toLowerCase())) : outputs;
    this.nodes.push({ op, inputs, outputs: outs, attrs, domain, name: this.fresh(`n_${op}`) });
    return outs;
  }

  /** The nodes so far (op, inputs, outputs), for checks on what a graph builder emits. */
  nodeList(): readonly Readonly<Pick<NodeDef, 'op' | 'inputs' | 'outputs'>>[] {
    return this.nodes.map(({ op, inputs, outputs }) => ({ op, inputs: [...inputs], outputs: [...outputs] }));
  }

  // ---- common compositions -------------------------------------------------------------------

  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }
  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  div(a: string, b: string): string {
    return this.op('Div', [a, b]);
  }
  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.constI64(shape)]);
  }
  transpose(x: string, perm: number[]): string {
    return this.op('Transpose', [x], { perm });
  }
  concat(xs: string[], axis: number): string {
    return this.op('Concat', xs, { axis });
  }
  softmax(x: string, axis = -1): string {
    return this.op('Softmax', [x], { axis });
  }
  sigmoid(x: string): string {
    return this.op('Sigmoid', [x]);
  }
  silu(x: string): string {
    return this.mul(x, this.sigmoid(x));
  }
  /** GELU with the tanh approximation, as nn.GELU(approximate='tanh') and T5's gelu_new. */
  geluTanh(x: string): string {
    const c = this.scalarF(Math.sqrt(2 / Math.PI));
    const x3 = this.mul(this.mul(x, x), x);
    const inner = this.mul(c, this.add(x, this.mul(this.scalarF(0.044715), x3)));
    const t = this.op('Tanh', [inner]);
    return this.mul(this.mul(this.scalarF(0.5), x), this.add(this.scalarF(1), t));
  }
  reduceMean(x: string, axes: number[], keepdims = 1): string {
    // ReduceMean takes axes as an attribute up to opset 17
    return this.op('ReduceMean', [x], { axes, keepdims });
  }
  reduceSum(x: string, axes: number[], keepdims = 1): string {
    return this.op('ReduceSum', [x, this.constI64(axes)], { keepdims });
  }
  sqrt(x: string): string {
    return this.op('Sqrt', [x]);
  }

  /**
   * y = x @ W^T + b for a torch Linear weight W[out, in]. The weight is stored pre-transposed as
   * [in, out] so MatMul needs no runtime Transpose.
   */
  linear(x: string, name: string, w: Float32Array, outF: number, inF: number, b?: Float32Array | null): string {
    const wt = transpose2d(w, outF, inF);
    const wn = this.weight(`${name}.weight_t`, wt, [inF, outF]);
    let y = this.matmul(x, wn);
    if (b) y = this.add(y, this.weight(`${name}.bias`, b, [outF]));
    return y;
  }

  /** LayerNorm over the last axis (opset 17 LayerNormalization), optional affine. */
  layerNorm(x: string, C: number, eps: number, weight?: Float32Array | null, bias?: Float32Array | null, name?: string): string {
    const w = weight ? this.weight(`${name}.weight`, weight, [C]) : this.constF(new Float32Array(C).fill(1), [C]);
    const b = bias ? this.weight(`${name}.bias`, bias, [C]) : this.constF(new Float32Array(C), [C]);
    return this.op('LayerNormalization', [x, w, b], { axis: -1, epsilon: floatAttr(eps) });
  }

  /** x * rsqrt(mean(x^2) + eps) * w  (T5LayerNorm / FastRMSNorm) */
  rmsNorm(x: string, C: number, eps: number, weight: Float32Array, name: string): string {
    const ms = this.reduceMean(this.mul(x, x), [-1]);
    const inv = this.op('Reciprocal', [this.sqrt(this.add(ms, this.scalarF(eps)))]);
    return this.mul(this.mul(x, inv), this.weight(`${name}.weight`, weight, [C]));
  }

  /** L2 normalise along the last axis like F.normalize(eps=1e-12): x / max(||x||, eps). */
  l2normalize(x: string, eps = 1e-12): string {
    const n = this.sqrt(this.reduceSum(this.mul(x, x), [-1]));
    return this.div(x, this.op('Max', [n, this.scalarF(eps)]));
  }

  toBytes(opset = 17): Uint8Array {
    const g = new ProtoWriter();
    for (const n of this.nodes) g.fieldMessage(1, encodeNode(n));
    g.fieldString(2, this.name);
    for (const i of this.inits) g.fieldMessage(5, encodeTensor(i.name, i.t));
    for (const v of this.inputs) g.fieldMessage(11, encodeValueInfo(v));
    for (const v of this.outputs) g.fieldMessage(12, encodeValueInfo(v));

    const m = new ProtoWriter();
    m.fieldVarint(1, 8); // ir_version 8 (ONNX 1.13+, opset 17/18)
    m.fieldString(2, 'scalekv-vscode');
    m.fieldMessage(7, g);
    const ops = new ProtoWriter().fieldString(1, '').fieldVarint(2, opset);
    m.fieldMessage(8, ops);
    if (this.nodes.some((n) => n.domain === 'com.microsoft')) {
      m.fieldMessage(8, new ProtoWriter().fieldString(1, 'com.microsoft').fieldVarint(2, 1));
    }
    return m.finish();
  }

  /** Total bytes of initializers, to report model size. */
  get weightBytes(): number {
    return this.inits.reduce((a, i) => a + i.t.raw.byteLength, 0);
  }
}

function elemSize(t: ElemType): number {
  switch (t) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'bool':
    case 'int8':
    case 'uint8':
      return 1;
  }
}

export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  if (w.length !== rows * cols) throw new Error(`transpose2d: ${w.length} != ${rows}x${cols}`);
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[base + c];
  }
  return out;
}

function encodeTensor(name: string, t: ConstTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.fieldVarint(1, d);
  w.fieldVarint(2, TensorDataType[t.dtype]);
  w.fieldString(8, name);
  w.fieldBytes(9, t.raw);
  return w;
}

function encodeValueInfo(v: ValueDef): ProtoWriter {
  const shape = new ProtoWriter();
  if (v.shape) {
    for (const d of v.shape) {
      const dim = new ProtoWriter();
      if (typeof d === 'number') dim.fieldVarint(1, d);
      else dim.fieldString(2, d);
      shape.fieldMessage(1, dim);
    }
  }
  const tt = new ProtoWriter().fieldVarint(1, TensorDataType[v.dtype]);
  if (v.shape) tt.fieldMessage(2, shape);
  const type = new ProtoWriter().fieldMessage(1, tt);
  return new ProtoWriter().fieldString(1, v.name).fieldMessage(2, type);
}

function encodeAttr(name: string, v: AttrValue): ProtoWriter {
  const a = new ProtoWriter().fieldString(1, name);
  if (typeof v === 'number') {
    if (Number.isInteger(v)) a.fieldVarint(3, v).fieldVarint(20, AttrType.INT);
    else a.fieldFloat(2, v).fieldVarint(20, AttrType.FLOAT);
  } else if (typeof v === 'string') {
    a.fieldString(4, v).fieldVarint(20, AttrType.STRING);
  } else if (Array.isArray(v)) {
    for (const x of v) a.fieldVarint(8, x);
    a.fieldVarint(20, AttrType.INTS);
  } else if ('floats' in v) {
    for (const x of v.floats) a.fieldFloat(7, x);
    a.fieldVarint(20, AttrType.FLOATS);
  } else if ('f' in v) {
    a.fieldFloat(2, v.f).fieldVarint(20, AttrType.FLOAT);
  } else if ('int' in v) {
    a.fieldVarint(3, v.int).fieldVarint(20, AttrType.INT);
  } else {
    a.fieldMessage(5, encodeTensor('', v.tensor)).fieldVarint(20, AttrType.TENSOR);
  }
  return a;
}

/** Force a float attribute even when the value is integral (e.g. alpha=1). */
export function floatAttr(v: number): AttrValue {
  return { f: v };
}

function encodeNode(n: NodeDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.fieldString(1, i);
  for (const o of n.outputs) w.fieldString(2, o);
  w.fieldString(3, n.name);
  w.fieldString(4, n.op);
  for (const [k, v] of Object.entries(n.attrs)) w.fieldMessage(5, encodeAttr(k, v));
  if (n.domain) w.fieldString(7, n.domain);
  return w;
}
