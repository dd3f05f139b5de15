/**
 * Where a run's files go and how they are named: <outDir>/<runId>/run.json, image-<i>.png,
 * tokens.bin (sampled bits, uint8 [scale][B][L][d] concatenated), retention.bin.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScaleKVError } from '../shared/errors';
import type { RunRecord } from '../shared/types';

export function newRunId(policy: string, seed: number): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${t}-${policy}-s${seed}-${Math.random().toString(36).slice(2, 6)}`;
}

export function runDir(outDir: string, id: string): string {
  const dir = join(outDir, id);
  mkdirSync(dir, { recursive: true });
  return dir;
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
    if (o + n > all.length) throw new ScaleKVError('E_CHECKPOINT_TRUNCATED', `${join(dir, 'tokens.bin')} is shorter than the run's schedule needs.`);
    out.push(all.subarray(o, o + n));
    o += n;
  }
  return out;
}

export function writeRunRecord(dir: string, run: RunRecord): string {
  const p = join(dir, 'run.json');
  writeFileSync(p, JSON.stringify(run, null, 2));
  return p;
}
