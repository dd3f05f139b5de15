/**
 * HuggingFace-style sharded checkpoints (flan-t5-xl, infinity_8b_weights/): an *.index.json whose
 * weight_map names the shard of every tensor. Shards are opened on first use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import type { CheckpointReader, TensorInfo } from './types';

export class ShardedReader implements CheckpointReader {
  readonly format = 'sharded' as const;
  private readonly map = new Map<string, string>();
  private readonly open = new Map<string, CheckpointReader>();

  constructor(
    readonly path: string,
    private readonly openShard: (p: string) => CheckpointReader,
  ) {
    let idx: { weight_map?: Record<string, string> };
    try {
      idx = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ScaleKVError('E_CHECKPOINT_MISSING', `Checkpoint index not found: ${path}`);
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is not a valid checkpoint index (JSON): ${(e as Error).message}`);
    }
    if (!idx.weight_map || typeof idx.weight_map !== 'object') throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} has no weight_map.`);
    const dir = dirname(path);
    for (const [k, v] of Object.entries(idx.weight_map)) this.map.set(k, join(dir, v));
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
