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
  const { resolution, aspectRatio, image } = lb;
  return JSON.stringify({ model: { name, depth, embedDim, numHeads }, resolution, aspectRatio, image });
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

/**
 * Per budget rule, only the prompt and seed cases measured in every row of that rule: the rows of a
 * rule then average the same cases, as in one complete evaluation. Returns the cells kept and how many
 * were dropped.
 */
export function completeCases(plan: PlannedRow[], perPrompt: LeaderboardPromptRow[]): { kept: LeaderboardPromptRow[]; dropped: number } {
  const ruleOf = new Map(plan.map((r) => [r.key, r.budgetRule ?? '-']));
  const rowsOf = new Map<string, number>();
  for (const r of plan) rowsOf.set(ruleOf.get(r.key)!, (rowsOf.get(ruleOf.get(r.key)!) ?? 0) + 1);
  const have = new Map<string, number>();
  const caseOf = (c: LeaderboardPromptRow) => JSON.stringify([ruleOf.get(c.row), c.prompt, c.seed]);
  for (const c of perPrompt) have.set(caseOf(c), (have.get(caseOf(c)) ?? 0) + 1);
  const kept = perPrompt.filter((c) => have.get(caseOf(c)) === rowsOf.get(ruleOf.get(c.row)!));
  return { kept, dropped: perPrompt.length - kept.length };
}

export function mergeLeaderboards(parts: { origin: string; leaderboard: Leaderboard }[], o: { completeOnly?: boolean } = {}): Leaderboard {
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
  let perPrompt: LeaderboardPromptRow[] = [];
  for (const p of parts) {
    for (const r of p.leaderboard.perPrompt) {
      const k = JSON.stringify([r.row, r.prompt, r.seed]);
      const before = seen.get(k);
      if (before) bad(`${r.row} for prompt "${r.prompt}" (seed ${r.seed}) was measured in both ${before} and ${p.origin}.`);
      seen.set(k, p.origin);
      perPrompt.push(r);
    }
  }
  let dropped = 0;
  if (o.completeOnly) ({ kept: perPrompt, dropped } = completeCases([...plan.values()], perPrompt));
  const measured = new Set(perPrompt.map((c) => JSON.stringify([c.prompt, c.seed])));
  const refs = new Map<string, Leaderboard['references'][number]>();
  for (const p of parts) {
    for (const r of p.leaderboard.references) {
      const k = JSON.stringify([r.prompt, r.seed]);
      if (!refs.has(k) && (measured.has(k) || !o.completeOnly)) refs.set(k, r);
    }
  }
  const all = parts.map((p) => p.leaderboard);
  const profiles = new Map<string, Leaderboard['profiles'][number]>();
  for (const lb of all) for (const pr of lb.profiles) profiles.set(JSON.stringify([pr.path, pr.ratio, pr.rule, pr.asiMode]), pr);
  // a part's own resume, partial and merge notes do not describe this merge
  const own = /from an earlier, interrupted or smaller evaluation|^Partial: |^Merged from \d+ part|^Only prompts measured in every row/;
  const notes = uniq(all.flatMap((lb) => lb.notes).filter((n) => !own.test(n)));
  notes.push(`Merged from ${parts.length} part(s) of one evaluation (sharded over processes); each row averages every part's cases.`);
  if (o.completeOnly) {
    const left = `${dropped} measurement(s) of unfinished prompts left out`;
    notes.push(`Only prompts measured in every row of their budget rule are kept (${left}).`);
  }
  return {
    ...first,
    createdAt: new Date().toISOString(),
    prompts: o.completeOnly ? uniq(perPrompt.map((c) => c.prompt)) : uniq(all.flatMap((lb) => lb.prompts)),
    seeds: o.completeOnly ? uniq(perPrompt.map((c) => c.seed)) : uniq(all.flatMap((lb) => lb.seeds)),
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
