/** Renders a range of a dataset's images straight into its images.u8 (positional writes, one image buffer). */
import { closeSync, openSync, writeSync } from 'node:fs';
import { captionOf } from './scene';
import { renderScene } from './raster';
import { sceneAt, type Split } from './sceneAt';

export interface RangeJob {
  imagesPath: string;
  seed: number;
  split: Split;
  size: number;
  start: number;
  end: number;
}

/** renders images [start, end) and returns their meta.jsonl lines in order */
export function renderRange(job: RangeJob, onImage?: (done: number) => void): string[] {
  const bytes = 3 * job.size * job.size;
  const buf = new Uint8Array(bytes);
  const lines: string[] = [];
  const fd = openSync(job.imagesPath, 'r+');
  try {
    for (let i = job.start; i < job.end; i++) {
      const scene = sceneAt(job.seed, i, job.split);
      renderScene(scene, job.size, buf);
      let off = 0;
      while (off < bytes) off += writeSync(fd, buf, off, bytes - off, i * bytes + off);
      lines.push(JSON.stringify({ caption: captionOf(scene), scene }));
      onImage?.(i - job.start + 1);
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}
