/**
 * `scalekv merge-leaderboards --part DIR ... --out DIR [--check]`: the leaderboards of an evaluation
 * sharded over processes (each part an `evaluate --out` folder) as one leaderboard.json and
 * leaderboard.md; with --check also the prompt check of every kept image, per row (prompt-check.json
 * and prompt-check.md). Parts without a leaderboard yet (still running, or stopped) are skipped and named.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatLeaderboard } from '../engine/leaderboard';
import { checkLeaderboard, mergeLeaderboards } from '../engine/mergeLeaderboards';
import { ScaleKVError } from '../shared/errors';
import { readSmallFile } from '../shared/files';
import { writeFileAtomic } from '../shared/outputFiles';
import type { Leaderboard } from '../shared/types';
import { checkEvaluationFolder, formatChecks, summariseChecks, type CheckCache } from './leaderboardCheck';

/** a leaderboard of 1000 prompts x every row stays far below this */
const MAX_LEADERBOARD_BYTES = 256 * 2 ** 20;

export interface MergeResult {
  jsonPath: string;
  tablePath: string;
  checkPath?: string;
  merged: number;
  skipped: string[];
  checked: number;
  unchecked: number;
}

export function mergeCommand(partDirs: string[], outDir: string, check: boolean, completeOnly = false): MergeResult {
  if (!partDirs.length) throw new ScaleKVError('E_USAGE', 'merge-leaderboards needs at least one --part DIR (an evaluate --out folder).');
  const parts: { origin: string; dir: string; leaderboard: Leaderboard }[] = [];
  const skipped: string[] = [];
  for (const d of partDirs.map((p) => resolve(p))) {
    const file = join(d, 'leaderboard.json');
    if (!existsSync(file)) {
      skipped.push(d);
      continue;
    }
    const text = readSmallFile(file, MAX_LEADERBOARD_BYTES, 'leaderboard');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ScaleKVError('E_INVALID_REQUEST', `${file} is not valid JSON: ${(e as Error).message}`);
    }
    parts.push({ origin: file, dir: d, leaderboard: checkLeaderboard(json, file) });
  }
  if (!parts.length) {
    throw new ScaleKVError('E_INVALID_REQUEST', `None of the ${partDirs.length} part folder(s) has a leaderboard.json yet.`);
  }
  const lb = mergeLeaderboards(parts, { completeOnly });
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const jsonPath = join(out, 'leaderboard.json');
  const tablePath = join(out, 'leaderboard.md');
  writeFileAtomic(jsonPath, JSON.stringify(lb, null, 2));
  writeFileAtomic(tablePath, formatLeaderboard(lb));
  const result: MergeResult = { jsonPath, tablePath, merged: parts.length, skipped, checked: 0, unchecked: 0 };
  if (check) {
    const cache: CheckCache = {};
    for (const p of parts) {
      const r = checkEvaluationFolder(p.dir, p.leaderboard);
      Object.assign(cache, r.cache);
      result.checked += r.checked;
      result.unchecked += r.missing;
    }
    const rows = summariseChecks(lb, cache);
    result.checkPath = join(out, 'prompt-check.md');
    writeFileAtomic(join(out, 'prompt-check.json'), JSON.stringify({ format: 'scalekv-prompt-check-summary', version: 1, rows }, null, 2));
    writeFileAtomic(result.checkPath, formatChecks(lb, rows));
  }
  return result;
}
