/** `scalekv dataset` and `scalekv heldout`: the procedural training set and the evaluation prompts. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { heldOutPrompts, HELD_OUT_TRIPLES } from '../dataset/heldout';
import type { Split } from '../dataset/sceneAt';
import { writeDataset } from '../dataset/writer';
import { ScaleKVError } from '../shared/errors';
import { num, str, type ParsedArgs } from './args';

export async function datasetCommand(a: ParsedArgs): Promise<string> {
  const out = str(a, 'out');
  if (!out) throw new ScaleKVError('E_INVALID_REQUEST', 'dataset needs --out DIR.');
  const count = num(a, 'count', NaN);
  let last = -1;
  const { dir, info, ms } = await writeDataset({
    out,
    count,
    size: num(a, 'size', 512),
    seed: num(a, 'seed', 0),
    split: str(a, 'split', 'train') as Split,
    workers: str(a, 'workers') ? num(a, 'workers', 1) : undefined,
    onProgress: (done, total) => {
      const pct = Math.floor((100 * done) / total / 10) * 10;
      if (pct !== last) process.stderr.write(`[${String(pct).padStart(3)}%] ${done}/${total} images\n`);
      last = pct;
    },
  });
  const rate = info.count / (ms / 1000);
  const what = `${info.count} ${info.split} images ${info.size}x${info.size}`;
  return `${what} in ${(ms / 1000).toFixed(1)} s (${rate.toFixed(1)} images/s) -> ${dir}`;
}

/** the held-out prompts with their ground-truth scenes, as test/fixtures/dataset/heldout.json holds them */
export function heldOutFixture(): object {
  return {
    version: 1,
    rule:
      'Held-out triples: the first 50 colour x shape x position triples of a fixed shuffle (src/dataset/heldout.ts) such that no ' +
      'colour-shape, colour-position or shape-position pair is held out twice. Training captions never name a held-out triple.',
    triples: HELD_OUT_TRIPLES,
    prompts: heldOutPrompts(),
  };
}

export function heldOutCommand(a: ParsedArgs): string {
  const out = resolve(str(a, 'out', 'test/fixtures/dataset/heldout.json')!);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, JSON.stringify(heldOutFixture(), null, 2) + '\n');
  renameSync(`${out}.tmp`, out);
  return out;
}
