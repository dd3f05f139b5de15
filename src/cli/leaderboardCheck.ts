/**
 * Does each image of an evaluation still show its prompt? The prompt checker (src/eval) run on every
 * kept image of an evaluation folder: the full-cache references and the candidates (kept with
 * --keep-runs), summarised per leaderboard row as shares matching colour, colour + position and all
 * three. Results are cached per folder in prompt-check.json, so merging again after one more shard
 * checks only that shard's images.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPsnr } from '../engine/leaderboard';
import { checkImage } from '../eval/checker';
import { parsePrompt } from '../eval/prompt';
import { decodePng } from '../model/png';
import { writeFileAtomic } from '../shared/outputFiles';
import type { Leaderboard, RunRecord } from '../shared/types';

export const CHECK_FILE = 'prompt-check.json';
/** the row key the full-cache references are filed under */
export const REFERENCE_ROW = 'full';

export interface ImageCheck {
  colour: boolean;
  position: boolean;
  shape: boolean;
}

/** per image: row key, prompt and seed -> what matched */
export type CheckCache = Record<string, ImageCheck>;

export const checkKey = (row: string, prompt: string, seed: number) => JSON.stringify([row, prompt, seed]);

function imageOf(dir: string, runId: string): string | null {
  const runJson = join(dir, 'runs', runId, 'run.json');
  if (!existsSync(runJson)) return null;
  const run = JSON.parse(readFileSync(runJson, 'utf8')) as RunRecord;
  const file = join(dir, 'runs', runId, run.images[0].path);
  return existsSync(file) ? file : null;
}

/**
 * Checks every image of the evaluation folder `dir` not yet in its prompt-check.json and saves the file.
 * Images whose run folder is gone (candidates without --keep-runs) and prompts the checker cannot read
 * are skipped; `missing` counts them.
 */
export function checkEvaluationFolder(dir: string, lb: Leaderboard): { cache: CheckCache; checked: number; missing: number } {
  const path = join(dir, CHECK_FILE);
  const cache: CheckCache = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { items: CheckCache }).items : {};
  const todo = [
    ...lb.references.map((r) => ({ row: REFERENCE_ROW, prompt: r.prompt, seed: r.seed, run: r.run })),
    ...lb.perPrompt.map((r) => ({ row: r.row, prompt: r.prompt, seed: r.seed, run: r.candidateRun })),
  ].filter((t) => !cache[checkKey(t.row, t.prompt, t.seed)]);
  let checked = 0;
  let missing = 0;
  for (const t of todo) {
    let expected;
    try {
      expected = parsePrompt(t.prompt);
    } catch {
      missing++;
      continue;
    }
    const file = imageOf(dir, t.run);
    if (!file) {
      missing++;
      continue;
    }
    const r = checkImage(decodePng(readFileSync(file), file), t.prompt, expected);
    cache[checkKey(t.row, t.prompt, t.seed)] = { colour: r.colour, position: r.position, shape: r.shape };
    checked++;
  }
  if (checked) {
    writeFileAtomic(path, JSON.stringify({ format: 'scalekv-prompt-check-cache', version: 1, items: cache }));
  }
  return { cache, checked, missing };
}

export interface CheckRow {
  /** leaderboard row key, or REFERENCE_ROW */
  key: string;
  label: string;
  ratio: number | null;
  budgetRule?: string;
  images: number;
  colour: number;
  colourPosition: number;
  colourPositionShape: number;
  /** the leaderboard row's PSNR cell, for reading both tables side by side */
  psnr?: string;
}

/** shares per leaderboard row (and the references first) over the images checked */
export function summariseChecks(lb: Leaderboard, cache: CheckCache): CheckRow[] {
  const share = (items: ImageCheck[], f: (c: ImageCheck) => boolean) => (items.length ? items.filter(f).length / items.length : NaN);
  const row = (key: string, items: ImageCheck[]) => ({
    images: items.length,
    colour: share(items, (c) => c.colour),
    colourPosition: share(items, (c) => c.colour && c.position),
    colourPositionShape: share(items, (c) => c.colour && c.position && c.shape),
    key,
  });
  const pick = (key: string, cases: { prompt: string; seed: number }[]) =>
    cases.map((c) => cache[checkKey(key, c.prompt, c.seed)]).filter((c): c is ImageCheck => !!c);
  const refs: CheckRow = { ...row(REFERENCE_ROW, pick(REFERENCE_ROW, lb.references)), label: 'full cache (reference)', ratio: null };
  const rows = lb.rows.map((r): CheckRow => {
    const cases = lb.perPrompt.filter((p) => p.row === r.key);
    return { ...row(r.key, pick(r.key, cases)), label: r.label, ratio: r.ratio, budgetRule: r.budgetRule, psnr: formatPsnr(r) };
  });
  return [refs, ...rows];
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : 'n/a');

export function formatChecks(lb: Leaderboard, rows: CheckRow[]): string {
  return [
    `# Prompt check: ${lb.model.name}, ${lb.resolution} ${lb.image.width}x${lb.image.height}`,
    '',
    'Share of images in which the prompt checker (src/eval) finds the named colour, colour and position, and all three.',
    '',
    '| policy | ratio | budget rule | images | colour | colour + position | colour + position + shape | PSNR dB |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const policy = r.key === REFERENCE_ROW ? r.label : r.label.replace(/ \[\w+ rule\]$/, '');
      const shares = [pct(r.colour), pct(r.colourPosition), pct(r.colourPositionShape)];
      const cells = [policy, r.ratio ?? '-', r.budgetRule ?? '-', r.images, ...shares, r.psnr ?? '-'];
      return `| ${cells.join(' | ')} |`;
    }),
    '',
  ].join('\n');
}
