/**
 * Builds the notebook MIME payloads of a run (images and retention record inline). The payload carries
 * each image's thumbnail (the full image goes beside it as image/png), so that a notebook of a few runs
 * stays well under the size VS Code opens without asking.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunPayload, RunRecord } from '../shared/types';

/** retention records above this size are left out of notebook outputs (notebooks are saved to disk) */
const MAX_INLINE_RETENTION = 8 * 2 ** 20;

export function runPayload(runPath: string, run: RunRecord): RunPayload {
  const dir = dirname(runPath);
  const shown = (im: RunRecord['images'][number]) => (im.thumbnail && existsSync(join(dir, im.thumbnail)) ? im.thumbnail : im.path);
  const images = run.images
    .filter((im) => existsSync(join(dir, im.path)))
    .map((im) => ({ prompt: im.prompt, dataUri: `data:image/png;base64,${readFileSync(join(dir, shown(im))).toString('base64')}` }));
  const p: RunPayload = { run, images };
  if (run.retention) {
    const f = join(dir, run.retention.file);
    if (existsSync(f) && statSync(f).size <= MAX_INLINE_RETENTION)
      p.retention = { index: run.retention, dataBase64: readFileSync(f).toString('base64') };
  }
  return p;
}
