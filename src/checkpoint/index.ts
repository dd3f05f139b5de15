/** Opens any supported checkpoint by its content, and adapts it to the graph builders' WeightSource. */
import { closeSync, readSync, statSync } from 'node:fs';
import { ScaleKVError } from '../shared/errors';
import { openRegularFile } from '../shared/files';
import { PthReader } from './pth';
import { SafetensorsReader } from './safetensors';
import { ShardedReader } from './sharded';
import type { CheckpointReader, WeightSource } from './types';

export function openCheckpoint(path: string): CheckpointReader {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} is a symbolic link that loops back on itself.`);
    }
    throw new ScaleKVError('E_CHECKPOINT_MISSING', `Checkpoint not found: ${path}`);
  }
  if (st.isDirectory()) throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} is a folder; pick a checkpoint file or a model folder.`);
  if (path.endsWith('.index.json')) return new ShardedReader(path, openShard);
  const { fd, size } = openRegularFile(path);
  const head = new Uint8Array(Math.min(16, size));
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.length >= 2 && head[0] === 0x50 && head[1] === 0x4b) return new PthReader(path);
  if (head.length >= 9 && head[8] === 0x7b) return new SafetensorsReader(path); // '{' after the length
  if (head.length > 0 && head[0] === 0x80) return new PthReader(path); // legacy pickle: PthReader explains
  throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is neither a PyTorch (.pth/.bin) nor a safetensors checkpoint.`);
}

/** A shard is one checkpoint file: an index naming another index (or itself) would recurse without end. */
function openShard(path: string): CheckpointReader {
  if (path.endsWith('.index.json')) {
    throw new ScaleKVError(
      'E_CHECKPOINT_CORRUPT',
      `${path} is named as a shard, but it is an index: a shard must be a .safetensors or .bin file.`,
    );
  }
  return openCheckpoint(path);
}

/** A checkpoint seen through the WeightSource interface, optionally under a name prefix ('vae.'). */
export class CheckpointWeights implements WeightSource {
  constructor(
    readonly reader: CheckpointReader,
    private readonly prefix = '',
  ) {}
  get origin(): string {
    return this.reader.path;
  }
  names(): string[] {
    return this.reader
      .keys()
      .filter((k) => k.startsWith(this.prefix))
      .map((k) => k.slice(this.prefix.length));
  }
  has(name: string): boolean {
    return this.reader.has(this.prefix + name);
  }
  shape(name: string): number[] {
    return this.reader.info(this.prefix + name).shape;
  }
  get(name: string): Float32Array {
    return this.reader.readFloat32(this.prefix + name);
  }
}
