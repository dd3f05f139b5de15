/**
 * Merging the leaderboards of a sharded evaluation: the merged rows are the means over every part's
 * cases (recomputed here in float64 from the per-prompt rows), parts of another model or a row
 * measured twice are refused, and a table whose rows average different numbers of cases says so.
 * Also: a profile set maps each row to the profile made for its ratio and rule, or fails naming the set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchProfiles, planRows, rowKey, rowLabel } from '../../../src/engine/evaluatePlan';
import { aggregateRows, formatLeaderboard, rankRows } from '../../../src/engine/leaderboard';
import { checkLeaderboard, completeCases, mergeLeaderboards } from '../../../src/engine/mergeLeaderboards';
import type { BudgetRuleName, EvaluateRequest, Leaderboard, LeaderboardPromptRow, PolicyName } from '../../../src/shared/types';

function cell(
  policy: PolicyName,
  ratio: number,
  rule: BudgetRuleName,
  prompt: string,
  psnr: number | null,
  ssim: number,
): LeaderboardPromptRow {
  return {
    row: rowKey(policy, ratio, rule),
    prompt,
    seed: 0,
    candidateRun: `${policy}-${ratio}-${rule}-${prompt}`,
    psnr,
    ssim,
    bitAgreement: ssim / 2,
    kvHeldBytes: 1000 * ratio,
    kvPeakBytes: 2000 * ratio,
    kvHeldRatio: ratio,
    kvPeakRatio: 2 * ratio,
    ms: 100 + ssim,
    timeRatio: 0.5,
  };
}

function part(rule: BudgetRuleName, prompt: string, cells: LeaderboardPromptRow[], model = 'infinity-shapes'): Leaderboard {
  const plan = [...new Map(cells.map((c) => [c.row, c])).values()].map((c) => {
    const [policy, ratio] = c.row.split('|');
    return { key: c.row, policy: policy as PolicyName, label: rowLabel(policy, rule), ratio: Number(ratio), budgetRule: rule };
  });
  return {
    format: 'scalekv-leaderboard',
    version: 1,
    createdAt: '2026-11-26T00:00:00Z',
    model: { name: model, depth: 12, embedDim: 256, numHeads: 4 } as Leaderboard['model'],
    provider: { requested: 'cpu', used: 'cpu', reason: 'cpu' },
    resolution: '0.25M',
    aspectRatio: 1,
    image: { width: 512, height: 512 },
    prompts: [prompt],
    seeds: [0],
    ratios: [...new Set(plan.map((p) => p.ratio))],
    policies: [...new Set(plan.map((p) => p.policy))],
    budgetRules: [rule],
    ablation: false,
    profiles: [],
    references: [{ prompt, seed: 0, run: `ref-${prompt}-${rule}`, ms: 200, kvHeldBytes: 10000, kvPeakBytes: 10000 }],
    rows: rankRows(aggregateRows(plan, cells)),
    perPrompt: cells,
    notes: ['1 row measurement(s) were taken from an earlier, interrupted or smaller evaluation in the same folder.'],
  };
}

test('merged rows are the means over every part; different case counts show in the table', () => {
  const a = part('official', 'p1', [cell('snapkv', 0.1, 'official', 'p1', 20, 0.8), cell('scalekv', 0.1, 'official', 'p1', null, 1)]);
  const b = part('official', 'p2', [cell('snapkv', 0.1, 'official', 'p2', 30, 0.6), cell('scalekv', 0.1, 'official', 'p2', 12, 0.4)]);
  const c = part('legacy', 'p1', [cell('snapkv', 0.1, 'legacy', 'p1', 25, 0.7)]);
  const lb = mergeLeaderboards([
    { origin: 'a', leaderboard: a },
    { origin: 'b', leaderboard: b },
    { origin: 'c', leaderboard: c },
  ]);
  assert.deepEqual(lb.prompts, ['p1', 'p2']);
  assert.deepEqual(lb.budgetRules, ['official', 'legacy']);
  assert.equal(lb.references.length, 2, 'one reference per prompt and seed');
  assert.equal(lb.perPrompt.length, 5);
  const row = (k: string) => lb.rows.find((r) => r.key === k)!;
  const snap = row(rowKey('snapkv', 0.1, 'official'));
  assert.equal(snap.cases, 2);
  assert.ok(Math.abs(snap.psnr! - 25) < 1e-12);
  assert.ok(Math.abs(snap.ssim - 0.7) < 1e-12);
  assert.ok(Math.abs(snap.ms - 100.7) < 1e-12);
  const skv = row(rowKey('scalekv', 0.1, 'official'));
  // the identical image (psnr null) is left out of the PSNR mean and counted
  assert.deepEqual([skv.cases, skv.identical, skv.psnr], [2, 1, 12]);
  assert.ok(Math.abs(skv.ssim - 0.7) < 1e-12);
  assert.equal(row(rowKey('snapkv', 0.1, 'legacy')).cases, 1);
  assert.ok(!lb.notes.some((n) => /interrupted/.test(n)), "a part's resume note does not describe the merge");
  assert.ok(lb.notes.some((n) => /Merged from 3 part/.test(n)));
  const md = formatLeaderboard(lb);
  assert.match(md, /\| policy \| ratio \| budget rule \| cases \| PSNR dB \|/);
  assert.match(md, /\| snapkv \| 0\.1 \| legacy \| 1 \| 25\.00 \|/);
  assert.match(md, /\| scalekv \| 0\.1 \| official \| 2 \| 12\.00 \(1\/2 identical\) \|/);
  // a single complete evaluation keeps its table as before: no cases column
  assert.doesNotMatch(formatLeaderboard(a), /\| cases \|/);
});

test('complete-only: per rule, only prompts measured in every row of that rule are averaged', () => {
  // official: p1 has both rows, p2 only snapkv (its profile part stopped); legacy: p1 has its one row
  const a = part('official', 'p1', [cell('snapkv', 0.1, 'official', 'p1', 20, 0.8), cell('scalekv', 0.1, 'official', 'p1', 10, 0.5)]);
  const b = part('official', 'p2', [cell('snapkv', 0.1, 'official', 'p2', 30, 0.6)]);
  const c = part('legacy', 'p2', [cell('snapkv', 0.1, 'legacy', 'p2', 25, 0.7)]);
  const parts = [a, b, c].map((leaderboard, i) => ({ origin: `part${i}`, leaderboard }));
  const lb = mergeLeaderboards(parts, { completeOnly: true });
  const snap = lb.rows.find((r) => r.key === rowKey('snapkv', 0.1, 'official'))!;
  assert.deepEqual([snap.cases, snap.psnr], [1, 20], 'p2 is left out of the official rows');
  assert.equal(lb.rows.find((r) => r.key === rowKey('snapkv', 0.1, 'legacy'))!.cases, 1, 'p2 is complete for the legacy rule');
  assert.deepEqual(lb.prompts, ['p1', 'p2']);
  assert.deepEqual(lb.references.map((r) => r.prompt).sort(), ['p1', 'p2']);
  assert.ok(lb.notes.some((n) => /1 measurement\(s\) of unfinished prompts left out/.test(n)));
  // without the option every measurement counts
  assert.equal(mergeLeaderboards(parts).rows.find((r) => r.key === rowKey('snapkv', 0.1, 'official'))!.cases, 2);
  // the pure function on its own: the official rule's plan has two rows
  const plan = [...a.rows, ...c.rows].map(({ key, policy, label, ratio, budgetRule }) => ({ key, policy, label, ratio, budgetRule }));
  const all = [...a.perPrompt, ...b.perPrompt, ...c.perPrompt];
  const r = completeCases(plan, all);
  assert.equal(r.dropped, 1);
  assert.deepEqual(
    r.kept.map((x) => `${x.row}:${x.prompt}`),
    all.filter((x) => x.prompt === 'p1' || x.row.includes('legacy')).map((x) => `${x.row}:${x.prompt}`),
  );
});

test('parts of another model, a row measured twice, and files that are not leaderboards are refused', () => {
  const a = part('official', 'p1', [cell('snapkv', 0.1, 'official', 'p1', 20, 0.8)]);
  const other = part('official', 'p2', [cell('snapkv', 0.1, 'official', 'p2', 20, 0.8)], 'tiny-infinity');
  const err = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: { code?: string; message: string }) => e.code === 'E_INVALID_REQUEST' && re.test(e.message));
  err(
    () =>
      mergeLeaderboards([
        { origin: 'a', leaderboard: a },
        { origin: 'x', leaderboard: other },
      ]),
    /x was measured on another model/,
  );
  err(
    () =>
      mergeLeaderboards([
        { origin: 'a', leaderboard: a },
        { origin: 'again', leaderboard: a },
      ]),
    /measured in both a and again/,
  );
  err(() => mergeLeaderboards([]), /at least one/);
  err(() => checkLeaderboard({ format: 'scalekv-profile' }, 'f.json'), /f\.json is not a scalekv leaderboard/);
  assert.equal(checkLeaderboard(a, 'a'), a);
});

test('a profile set: each profile row takes the profile made for its ratio and rule', () => {
  const req = { policies: ['scalekv', 'hack'], ratios: [0.04, 0.1], budgetRules: ['official', 'legacy'] } as unknown as EvaluateRequest;
  const rows = planRows(req);
  const set = [
    { path: 'o4', ratio: 0.04, rule: 'official' as const },
    { path: 'o10', ratio: 0.1, rule: 'official' as const },
    { path: 'l4', ratio: 0.04, rule: 'legacy' as const },
    { path: 'l10', ratio: 0.1, rule: 'legacy' as const },
  ];
  const m = matchProfiles(rows, set);
  assert.equal(m.size, 8);
  for (const r of rows) assert.equal(m.get(r.key), `${r.budgetRule![0]}${r.ratio * 100}`, r.key);
  // rows without a rule match on the ratio alone
  const plain = planRows({ ...req, budgetRules: [] });
  assert.equal(matchProfiles(plain, set.slice(0, 2)).get(rowKey('hack', 0.04)), 'o4');
  const err = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: { code?: string; message: string }) => e.code === 'E_INVALID_REQUEST' && re.test(e.message));
  err(
    () => matchProfiles(rows, set.slice(0, 3)),
    /No profile of the set was made for scalekv \[legacy rule\] at ratio 0\.1\. The set: o4 \(ratio 0\.04, official rule\)/,
  );
  err(() => matchProfiles(plain, set), /2 profiles of the set fit scalekv at ratio 0\.04: o4, l4/);
});
