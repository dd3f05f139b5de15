/**
 * HuggingFace-style sharded checkpoints (flan-t5-xl, infinity_8b_weights/): an *.index.json whose
 * weight_map names the shard of every tensor. Shards are opened on first use.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import { confinedPath } from './confine';
import { readSmallFile } from '../shared/files';
import type { CheckpointReader, TensorInfo } from './types';

/** flan-t5-xl's index is 20 KB and an 8B model's well under 1 MB */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export class ShardedReader implements CheckpointReader {
  readonly format = 'sharded' as const;
  private readonly map = new Map<string, string>();
  private readonly open = new Map<string, CheckpointReader>();

  constructor(
    readonly path: string,
    private readonly openShard: (p: string) => CheckpointReader,
  ) {
    let idx: { weight_map?: unknown };
    try {
      idx = JSON.parse(readSmallFile(path, MAX_INDEX_BYTES, 'checkpoint index')) as typeof idx;
    } catch (e) {
      if (e instanceof ScaleKVError) throw e;
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is not a valid checkpoint index (JSON): ${(e as Error).message}`);
    }
    const wm = idx && typeof idx === 'object' ? idx.weight_map : undefined;
    if (!wm || typeof wm !== 'object' || Array.isArray(wm)) {
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} has no weight_map object (tensor name -> shard file).`);
    }
    const dir = dirname(path);
    for (const [k, v] of Object.entries(wm as Record<string, unknown>)) {
      const shard = confinedPath(dir, v, path, `shard of tensor '${k}'`);
      if (shard.endsWith('.index.json')) {
        throw new ScaleKVError(
          'E_CHECKPOINT_CORRUPT',
          `${path} names the index ${String(v)} as the shard of tensor '${k}': a shard must be a .safetensors or .bin file.`,
        );
      }
      this.map.set(k, shard);
    }
    const missing = [...new Set(this.map.values())].filter((p) => !existsSync(p));
    if (missing.length) throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} lists shards that are missing: ${missing.join(', ')}`);
  }

  private shard(name: string): CheckpointReader {
    const file = this.map.get(name);
    if (!file) throw new ScaleKVError('E_SHAPE_MISMATCH', `Tensor '${name}' is not in ${this.path}.`);
    let r = this.open.get(file);
    if (!r) {
      r = this.openShard(file);
      this.open.set(file, r);
    }
    return r;
  }

  keys(): string[] {
    return [...this.map.keys()];
  }
  has(name: string): boolean {
    return this.map.has(name);
  }
  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }
  readFloat32(name: string): Float32Array {
    return this.shard(name).readFloat32(name);
  }
  get bytesRead(): number {
    let n = 0;
    for (const r of this.open.values()) n += r.bytesRead;
    return n;
  }
  close(): void {
    for (const r of this.open.values()) r.close();
    this.open.clear();
  }
}
