/**
 * One leaderboard from several: the parts of an evaluation sharded over processes (each its own prompts,
 * or its own budget rule) become the table one evaluation of all of them would have written. Parts must
 * come from the same model, size and image; a row measured twice for the same prompt and seed is an
 * error, since the two measurements would be averaged as if they were different cases.
 */
import { ScaleKVError } from '../shared/errors';
import type { Leaderboard, LeaderboardPromptRow } from '../shared/types';
import type { PlannedRow } from './evaluatePlan';
import { aggregateRows, rankRows } from './leaderboard';

const bad = (m: string): never => {
  throw new ScaleKVError('E_INVALID_REQUEST', m);
};

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

/** what every part must share for their rows to be averaged together */
function identity(lb: Leaderboard): string {
  const { name, depth, embedDim, numHeads } = lb.model;
  return JSON.stringify({ model: { name, depth, embedDim, numHeads }, resolution: lb.resolution, aspectRatio: lb.aspectRatio, image: lb.image });
}

export function checkLeaderboard(json: unknown, origin: string): Leaderboard {
  const lb = json as Leaderboard;
  const ok =
    !!lb &&
    lb.format === 'scalekv-leaderboard' &&
    lb.version === 1 &&
    Array.isArray(lb.rows) &&
    Array.isArray(lb.perPrompt) &&
    Array.isArray(lb.references) &&
    Array.isArray(lb.prompts) &&
    !!lb.model &&
    !!lb.image;
  if (!ok) bad(`${origin} is not a scalekv leaderboard (format scalekv-leaderboard, version 1).`);
  return lb;
}

/** the planned rows a part's table came from, recovered from its rows (key, policy, label, ratio, rule, mode) */
function planOf(lb: Leaderboard): PlannedRow[] {
  return lb.rows.map(({ key, policy, label, ratio, budgetRule, asiMode }) => ({ key, policy, label, ratio, budgetRule, asiMode }));
}

export function mergeLeaderboards(parts: { origin: string; leaderboard: Leaderboard }[]): Leaderboard {
  if (!parts.length) bad('Nothing to merge: give at least one leaderboard.');
  const first = parts[0].leaderboard;
  const id = identity(first);
  for (const p of parts) {
    if (identity(p.leaderboard) !== id) {
      bad(`${p.origin} was measured on another model, size or image than ${parts[0].origin}; only parts of one evaluation can be merged.`);
    }
  }
  const plan = new Map<string, PlannedRow>();
  for (const p of parts) for (const r of planOf(p.leaderboard)) if (!plan.has(r.key)) plan.set(r.key, r);
  const seen = new Map<string, string>();
  const perPrompt: LeaderboardPromptRow[] = [];
  for (const p of parts) {
    for (const r of p.leaderboard.perPrompt) {
      const k = JSON.stringify([r.row, r.prompt, r.seed]);
      const before = seen.get(k);
      if (before) bad(`${r.row} for prompt "${r.prompt}" (seed ${r.seed}) was measured in both ${before} and ${p.origin}.`);
      seen.set(k, p.origin);
      perPrompt.push(r);
    }
  }
  const refs = new Map<string, Leaderboard['references'][number]>();
  for (const p of parts) for (const r of p.leaderboard.references) if (!refs.has(JSON.stringify([r.prompt, r.seed]))) refs.set(JSON.stringify([r.prompt, r.seed]), r);
  const all = parts.map((p) => p.leaderboard);
  const profiles = new Map<string, Leaderboard['profiles'][number]>();
  for (const lb of all) for (const pr of lb.profiles) profiles.set(JSON.stringify([pr.path, pr.ratio, pr.rule, pr.asiMode]), pr);
  const notes = uniq(all.flatMap((lb) => lb.notes).filter((n) => !/from an earlier, interrupted or smaller evaluation/.test(n)));
  notes.push(`Merged from ${parts.length} part(s) of one evaluation (sharded over processes); each row averages every part's cases.`);
  return {
    ...first,
    createdAt: new Date().toISOString(),
    prompts: uniq(all.flatMap((lb) => lb.prompts)),
    seeds: uniq(all.flatMap((lb) => lb.seeds)),
    ratios: uniq(all.flatMap((lb) => lb.ratios)).sort((a, b) => a - b),
    policies: uniq(all.flatMap((lb) => lb.policies)),
    budgetRules: uniq(all.flatMap((lb) => lb.budgetRules)),
    ablation: all.some((lb) => lb.ablation),
    profiles: [...profiles.values()],
    references: [...refs.values()],
    rows: rankRows(aggregateRows([...plan.values()], perPrompt)),
    perPrompt,
    notes,
  };
}
