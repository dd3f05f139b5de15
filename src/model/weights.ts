/**
 * Where graph builders get weights from: a checkpoint (pth / safetensors / sharded) or memory. Names
 * are the official PyTorch state_dict names, so a real Infinity / flan-t5 / BSQ-VAE checkpoint maps
 * one to one. Shapes are checked against the config before any graph is built.
 */
import { ScaleKVError } from '../shared/errors';

// defined beside the checkpoint readers that implement it; every graph builder takes one
export type { WeightSource } from '../checkpoint/types';
import type { WeightSource } from '../checkpoint/types';

function same(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Read a tensor, checking that it exists and has the shape the config implies. */
export function expectTensor(ws: WeightSource, name: string, shape: number[]): Float32Array {
  if (!ws.has(name)) {
    throw new ScaleKVError('E_SHAPE_MISMATCH', `Tensor '${name}' is missing from ${ws.origin} (expected shape [${shape.join(', ')}]).`);
  }
  const got = ws.shape(name);
  // a torch scalar or [n] vs [1, n] style differences are real mismatches for us: be strict
  if (!same(got, shape)) {
    throw new ScaleKVError(
      'E_SHAPE_MISMATCH',
      `Tensor '${name}' in ${ws.origin} has shape [${got.join(', ')}], but the model config needs [${shape.join(', ')}].`,
    );
  }
  const data = ws.get(name);
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `Tensor '${name}' in ${ws.origin}: read ${data.length} values, expected ${n}.`);
  }
  return data;
}

export class MapWeights implements WeightSource {
  constructor(
    private readonly map: Map<string, { shape: number[]; data: Float32Array }>,
    readonly origin = 'memory',
  ) {}
  names(): string[] {
    return [...this.map.keys()];
  }
  has(name: string): boolean {
    return this.map.has(name);
  }
  shape(name: string): number[] {
    const t = this.map.get(name);
    if (!t) throw new ScaleKVError('E_SHAPE_MISMATCH', `Tensor '${name}' is missing from ${this.origin}.`);
    return t.shape;
  }
  get(name: string): Float32Array {
    const t = this.map.get(name);
    if (!t) throw new ScaleKVError('E_SHAPE_MISMATCH', `Tensor '${name}' is missing from ${this.origin}.`);
    return t.data;
  }
  set(name: string, shape: number[], data: Float32Array): void {
    this.map.set(name, { shape, data });
  }
}

/** View a WeightSource under a name prefix (e.g. 'vae.' inside an official VAE file). */
export class PrefixedWeights implements WeightSource {
  constructor(
    private readonly inner: WeightSource,
    private readonly prefix: string,
  ) {}
  get origin(): string {
    return this.inner.origin;
  }
  names(): string[] {
    return this.inner
      .names()
      .filter((n) => n.startsWith(this.prefix))
      .map((n) => n.slice(this.prefix.length));
  }
  has(name: string): boolean {
    return this.inner.has(this.prefix + name);
  }
  shape(name: string): number[] {
    return this.inner.shape(this.prefix + name);
  }
  get(name: string): Float32Array {
    return this.inner.get(this.prefix + name);
  }
}

/** Deterministic pseudo-random weights (for tests and the tiny checkpoint). */
/**
 * Uniform noise with the given standard deviation: an order of magnitude faster than gaussian(), for
 * random-weight benchmarks of billion-parameter shapes, where only the shapes and scales matter.
 */
export function uniformNoise(n: number, std: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = std * Math.sqrt(3);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * a;
  }
  return out;
}

export function gaussian(n: number, std: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: deterministic across platforms
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v) * std;
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v) * std;
  }
  return out;
}
