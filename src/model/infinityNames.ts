/**
 * Official Infinity state_dict names. Checkpoints saved with block_chunks=8 (the released 2B/8B) nest
 * blocks as block_chunks.{c}.module.{j}; models built without chunks use blocks.{i}. Both map here.
 */
import { ScaleKVError } from '../shared/errors';
import type { WeightSource } from './weights';

export function blockPrefixes(ws: WeightSource, depth: number): string[] {
  if (ws.has('blocks.0.sa.mat_qkv.weight')) return Array.from({ length: depth }, (_, i) => `blocks.${i}.`);
  const chunks = new Set<number>();
  for (const n of ws.names()) {
    const m = /^block_chunks\.(\d+)\.module\.(\d+)\.sa\.mat_qkv\.weight$/.exec(n);
    if (m) chunks.add(Number(m[1]));
  }
  if (chunks.size === 0) {
    throw new ScaleKVError(
      'E_SHAPE_MISMATCH',
      `No transformer blocks found in ${ws.origin}: expected 'blocks.0.sa.mat_qkv.weight' or 'block_chunks.0.module.0.sa.mat_qkv.weight'.`,
    );
  }
  const nChunks = chunks.size;
  if (depth % nChunks) {
    throw new ScaleKVError('E_SHAPE_MISMATCH', `${ws.origin} has ${nChunks} block chunks, which does not divide depth ${depth}.`);
  }
  const per = depth / nChunks;
  return Array.from({ length: depth }, (_, i) => `block_chunks.${Math.floor(i / per)}.module.${i % per}.`);
}

/** Count the transformer blocks a checkpoint holds (for config inference). */
export function countBlocks(names: string[]): number {
  let flat = 0;
  let chunked = 0;
  for (const n of names) {
    if (/^blocks\.\d+\.sa\.mat_qkv\.weight$/.test(n)) flat++;
    if (/^block_chunks\.\d+\.module\.\d+\.sa\.mat_qkv\.weight$/.test(n)) chunked++;
  }
  return flat || chunked;
}
