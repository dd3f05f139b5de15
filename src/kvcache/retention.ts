/**
 * Records which original token positions each layer keeps after each scale, per row and head, so the
 * visualizer can draw any layer/scale/head without re-running. Written as int32 LE to a side file;
 * an entry with offset -1 means the cache still held every token 0..cacheLen-1.
 */
import { writeFileSync } from 'node:fs';
import type { RetentionEntry, RetentionIndex } from '../shared/types';
import type { LayerCache } from './kvCache';

export class RetentionRecorder {
  private chunks: Int32Array[] = [];
  private size = 0;
  readonly entries: RetentionEntry[] = [];

  constructor(
    readonly rows: number,
    readonly heads: number,
    readonly layers: number,
  ) {}

  record(scaleIndex: number, layer: number, cache: LayerCache, cacheLenBefore: number): void {
    if (cache.isIdentity()) {
      this.entries.push({ scaleIndex, layer, offset: -1, count: cache.len, cacheLen: cacheLenBefore });
      return;
    }
    this.entries.push({ scaleIndex, layer, offset: this.size, count: cache.len, cacheLen: cacheLenBefore });
    const copy = cache.positions.slice();
    this.chunks.push(copy);
    this.size += copy.length;
  }

  write(path: string, fileName: string): RetentionIndex {
    const all = new Int32Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      all.set(c, o);
      o += c.length;
    }
    writeFileSync(path, new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    return { file: fileName, batchRows: this.rows, heads: this.heads, layers: this.layers, entries: this.entries };
  }
}
