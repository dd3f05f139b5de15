/**
 * A minimal protobuf writer for the parts of onnx.proto the engine emits (ModelProto, GraphProto,
 * NodeProto, TensorProto, AttributeProto, ValueInfoProto). Field numbers follow onnx/onnx.proto.
 * Writing the wire format directly keeps graph building dependency-free and lets weight bytes be
 * appended as they stream from a checkpoint instead of being copied through a message object tree.
 */

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private size = 0;

  get length(): number {
    return this.size + this.scratch.length;
  }

  private flushScratch(): void {
    if (this.scratch.length) {
      const b = Uint8Array.from(this.scratch);
      this.chunks.push(b);
      this.size += b.length;
      this.scratch = [];
    }
  }

  varint(v: number | bigint): this {
    let n = BigInt.asUintN(64, BigInt(v));
    if (n < 0x80n) {
      this.scratch.push(Number(n));
      return this;
    }
    while (n >= 0x80n) {
      this.scratch.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.scratch.push(Number(n));
    return this;
  }

  tag(field: number, wire: 0 | 1 | 2 | 5): this {
    return this.varint((field << 3) | wire);
  }

  bytes(b: Uint8Array): this {
    if (b.length < 64) {
      for (const x of b) this.scratch.push(x);
    } else {
      this.flushScratch();
      this.chunks.push(b);
      this.size += b.length;
    }
    return this;
  }

  /** field with a length-delimited payload */
  fieldBytes(field: number, b: Uint8Array): this {
    return this.tag(field, 2).varint(b.length).bytes(b);
  }

  fieldString(field: number, s: string): this {
    return this.fieldBytes(field, new TextEncoder().encode(s));
  }

  fieldVarint(field: number, v: number | bigint): this {
    return this.tag(field, 0).varint(v);
  }

  fieldFloat(field: number, f: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, f, true);
    return this.tag(field, 5).bytes(b);
  }

  fieldMessage(field: number, m: ProtoWriter): this {
    const len = m.length;
    this.tag(field, 2).varint(len);
    m.flushScratch();
    this.flushScratch();
    for (const c of m.chunks) {
      this.chunks.push(c);
    }
    this.size += len;
    return this;
  }

  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** onnx.TensorProto.DataType */
export const TensorDataType = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
} as const;
export type ElemType = keyof typeof TensorDataType;

/** onnx.AttributeProto.AttributeType */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
