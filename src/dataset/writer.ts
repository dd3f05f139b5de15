/**
 * Writes a dataset folder: images.u8 (uint8 N x S x S x 3, row-major HWC, no header), meta.jsonl
 * (one {"caption", "scene"} per image, in order) and dataset.json. Everything is written into a
 * sibling temp folder that is renamed into place at the end, so a folder appears complete or not at all.
 * Images are rendered by worker threads, each on a contiguous range of the file.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ScaleKVError } from '../shared/errors';
import { renderRange, type RangeJob } from './render';
import { SPLITS, type Split } from './sceneAt';
import { VOCABULARY } from './vocabulary';

export interface DatasetOptions {
  out: string;
  count: number;
  size: number;
  seed: number;
  split: Split;
  /** worker threads; 1 renders on the calling thread */
  workers?: number;
  onProgress?(done: number, total: number): void;
}

export interface DatasetInfo {
  version: 1;
  count: number;
  size: number;
  seed: number;
  split: Split;
  vocabulary: string[];
}

const MAX_SIZE = 4096;

function validate(o: DatasetOptions): void {
  const bad = (m: string) => {
    throw new ScaleKVError('E_INVALID_REQUEST', m);
  };
  if (!Number.isInteger(o.count) || o.count < 1) bad(`--count must be a positive integer, got ${o.count}.`);
  if (!Number.isInteger(o.size) || o.size < 8 || o.size > MAX_SIZE) bad(`--size must be an integer in [8, ${MAX_SIZE}], got ${o.size}.`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) bad(`--seed must be an integer in [0, 2^32), got ${o.seed}.`);
  if (!SPLITS.includes(o.split)) bad(`--split must be one of ${SPLITS.join(', ')}, got '${o.split}'.`);
  if (o.workers !== undefined && (!Number.isInteger(o.workers) || o.workers < 1))
    bad(`--workers must be a positive integer, got ${o.workers}.`);
}

/** a folder we may replace: absent, empty, or an earlier dataset */
function checkTarget(dir: string): void {
  if (!existsSync(dir)) return;
  const names = readdirSync(dir);
  if (names.length && !names.includes('dataset.json')) {
    throw new ScaleKVError(
      'E_INVALID_REQUEST',
      `${dir} exists and is not a dataset folder (no dataset.json); choose an empty or new folder.`,
    );
  }
}

function checkDisk(parent: string, bytes: number): void {
  let free: number;
  try {
    const s = statfsSync(parent);
    free = s.bavail * s.bsize;
  } catch {
    return; // no statfs here: the write itself will say
  }
  if (bytes > free) {
    throw new ScaleKVError(
      'E_INVALID_REQUEST',
      `The dataset needs ${(bytes / 2 ** 30).toFixed(2)} GiB but ${parent} has ${(free / 2 ** 30).toFixed(2)} GiB free.`,
    );
  }
}

/** the compiled worker: dist/datasetWorker.js in the bundle, worker.js beside this file under tsc */
function workerScript(): string {
  const bundled = join(__dirname, 'datasetWorker.js');
  return existsSync(bundled) ? bundled : join(__dirname, 'worker.js');
}

function runWorker(job: RangeJob, onProgress: (done: number) => void): Promise<string[]> {
  return new Promise((res, rej) => {
    const w = new Worker(workerScript(), { workerData: job });
    let lines: string[] | null = null;
    w.on('message', (m: { type: 'progress'; done: number } | { type: 'done'; lines: string[] }) => {
      if (m.type === 'progress') onProgress(m.done);
      else lines = m.lines;
    });
    w.on('error', rej);
    w.on('exit', (code) => {
      if (lines && code === 0) res(lines);
      else rej(new ScaleKVError('E_WORKER_CRASHED', `A dataset worker (images ${job.start}-${job.end - 1}) exited with code ${code}.`));
    });
  });
}

export async function writeDataset(o: DatasetOptions): Promise<{ dir: string; info: DatasetInfo; ms: number }> {
  validate(o);
  const t0 = performance.now();
  const dir = resolve(o.out);
  checkTarget(dir);
  const bytes = o.count * 3 * o.size * o.size;
  mkdirSync(dirname(dir), { recursive: true });
  checkDisk(dirname(dir), bytes);
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const imagesPath = join(tmp, 'images.u8');
    writeFileSync(imagesPath, new Uint8Array(0));
    const k = Math.max(1, Math.min(o.workers ?? availableParallelism(), o.count));
    const per = Math.ceil(o.count / k);
    const jobs: RangeJob[] = [];
    for (let s = 0; s < o.count; s += per)
      jobs.push({ imagesPath, seed: o.seed, split: o.split, size: o.size, start: s, end: Math.min(o.count, s + per) });
    const done = new Array<number>(jobs.length).fill(0);
    const report = (j: number, d: number) => {
      done[j] = d;
      o.onProgress?.(
        done.reduce((a, b) => a + b, 0),
        o.count,
      );
    };
    const parts =
      k === 1
        ? [renderRange(jobs[0], (d) => d % 16 === 0 && report(0, d))]
        : await Promise.all(jobs.map((j, i) => runWorker(j, (d) => report(i, d))));
    if (statSync(imagesPath).size !== bytes)
      throw new ScaleKVError('E_INTERNAL', `${imagesPath} has ${statSync(imagesPath).size} bytes, expected ${bytes}.`);
    writeFileSync(join(tmp, 'meta.jsonl'), parts.flat().join('\n') + '\n');
    const info: DatasetInfo = { version: 1, count: o.count, size: o.size, seed: o.seed, split: o.split, vocabulary: [...VOCABULARY] };
    // dataset.json last: its presence marks a complete folder
    writeFileSync(join(tmp, 'dataset.json'), JSON.stringify(info, null, 2) + '\n');
    if (existsSync(dir)) rmSync(dir, { recursive: true });
    renameSync(tmp, dir);
    return { dir, info, ms: performance.now() - t0 };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
