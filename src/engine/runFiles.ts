/**
 * Where a run's files go and how they are named: <outDir>/<runId>/run.json, image-<i>.png,
 * tokens.bin (sampled bits, uint8 [scale][B][L][d] concatenated), retention.bin.
 * A run folder appears complete or not at all: its files are written into <runId>.partial, run.json
 * last, and the folder is renamed to <runId> only then; a failed write removes the partial folder.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import { outputError, writeFileAtomic } from '../shared/outputFiles';
import type { RunRecord } from '../shared/types';

export function newRunId(policy: string, seed: number): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${t}-${policy}-s${seed}-${Math.random().toString(36).slice(2, 6)}`;
}

const PARTIAL_SUFFIX = '.partial';

/**
 * Writes a run folder: `write` puts the files into the partial folder it is given and returns the run
 * record, which is written there last as run.json; only then is the folder renamed into place. Any
 * failure (a full disk, a record that cannot be serialised) removes the partial folder.
 */
export function writeRunFolder(outDir: string, id: string, write: (dir: string) => RunRecord): { run: RunRecord; runPath: string } {
  const final = join(outDir, id);
  const partial = final + PARTIAL_SUFFIX;
  try {
    mkdirSync(partial);
    const run = write(partial);
    writeFileSync(join(partial, 'run.json'), serializeRun(run));
    renameSync(partial, final);
    return { run, runPath: join(final, 'run.json') };
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    throw outputError(e, final);
  }
}

function serializeRun(run: RunRecord): string {
  try {
    return JSON.stringify(run, null, 2);
  } catch (e) {
    throw new ScaleKVError('E_INVALID_REQUEST', `The run record cannot be written: ${(e as Error).message}. Nothing was written.`);
  }
}

export function writeTokens(dir: string, bits: Uint8Array[]): string {
  const total = bits.reduce((a, b) => a + b.length, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const b of bits) {
    all.set(b, o);
    o += b.length;
  }
  writeFileSync(join(dir, 'tokens.bin'), all);
  return 'tokens.bin';
}

/** bits per scale back from tokens.bin, given the run's schedule, batch and codebook dim */
export function readTokens(dir: string, run: RunRecord, codebookDim: number): Uint8Array[] {
  const all = new Uint8Array(readFileSync(join(dir, run.tokensFile ?? 'tokens.bin')));
  const B = run.request.prompts.length;
  const out: Uint8Array[] = [];
  let o = 0;
  for (const s of run.schedule) {
    const n = B * s.h * s.w * codebookDim;
    if (o + n > all.length)
      throw new ScaleKVError('E_CHECKPOINT_TRUNCATED', `${join(dir, 'tokens.bin')} is shorter than the run's schedule needs.`);
    out.push(all.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** rewrites a finished run's record (e.g. with its fidelity report) without a moment of a half-written run.json */
export function writeRunRecord(dir: string, run: RunRecord): string {
  const p = join(dir, 'run.json');
  writeFileAtomic(p, serializeRun(run));
  return p;
}
