/**
 * A run's files as the visualizer reads them: run.json itself, and the images and retention record it
 * names, only from inside the run's folder (the folder holding run.json). A run.json is user data that
 * may come from anywhere; without this, one naming '../../.ssh/id_rsa' as an image would have the host
 * read that file into the webview.
 */
import { dirname } from 'node:path';
import { readSmallBytes, readSmallFile, resolveInside } from '../shared/files';
import type { ImageRecord, RunRecord } from '../shared/types';

/** a 1024x1024 run.json with retention indexes is ~1 MB; its PNGs a few MB */
const MAX_RUN_JSON_BYTES = 64 * 1024 * 1024;
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

export function readRunRecord(runPath: string): RunRecord {
  const text = readSmallFile(runPath, MAX_RUN_JSON_BYTES, 'run record');
  let run: RunRecord;
  try {
    run = JSON.parse(text) as RunRecord;
  } catch (e) {
    throw new Error(`${runPath} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!run || typeof run !== 'object' || run.format !== 'scalekv-run') throw new Error(`${runPath} is not a ScaleKV run record.`);
  if (!Array.isArray(run.images)) throw new Error(`${runPath} lists no images.`);
  return run;
}

/** `name` (as run.json writes it) inside the run's folder, or an error that says where it points. */
export function runFile(runDir: string, name: unknown, what: string): string {
  const r = resolveInside(runDir, name);
  if ('path' in r) return r.path;
  const shown = typeof name === 'string' ? `'${name}'` : JSON.stringify(name);
  throw new Error(`The run in ${runDir} names the ${what} ${shown}, which ${r.why}; a run's files must lie inside its folder.`);
}

export interface RunImages {
  images: { prompt: string; dataUri: string }[];
  /** images that were refused or unreadable, with the reason; missing ones are skipped silently */
  problems: string[];
}

export function readRunImages(runPath: string, run: RunRecord): RunImages {
  const out: RunImages = { images: [], problems: [] };
  for (const im of run.images as Partial<ImageRecord>[]) {
    try {
      const p = runFile(dirname(runPath), im?.path, 'image');
      const bytes = readSmallBytes(p, MAX_IMAGE_BYTES, 'run image');
      out.images.push({ prompt: String(im.prompt ?? ''), dataUri: `data:image/png;base64,${bytes.toString('base64')}` });
    } catch (e) {
      if ((e as { code?: string }).code === 'E_CHECKPOINT_MISSING') continue;
      out.problems.push((e as Error).message);
    }
  }
  return out;
}
