/**
 * The leaderboard an evaluation writes: per-prompt measurements averaged into one row per policy x
 * ratio (x budget rule, x ASI mode), and its Markdown form. Pure functions; evaluate.ts runs the model.
 */
import type { Leaderboard, LeaderboardPromptRow, LeaderboardRow } from '../shared/types';
import type { PlannedRow } from './evaluatePlan';

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/**
 * Means over the cases measured for each planned row. PSNR is averaged over the images that differ
 * from the reference (an identical image has infinite PSNR); `identical` counts the others.
 */
export function aggregateRows(plan: PlannedRow[], perPrompt: LeaderboardPromptRow[]): LeaderboardRow[] {
  const by = new Map<string, LeaderboardPromptRow[]>();
  for (const r of perPrompt) by.set(r.row, [...(by.get(r.row) ?? []), r]);
  return plan.flatMap((p): LeaderboardRow[] => {
    const rs = by.get(p.key) ?? [];
    if (!rs.length) return [];
    const finite = rs.filter((r) => r.psnr !== null).map((r) => r.psnr as number);
    const avg = (f: (r: LeaderboardPromptRow) => number) => mean(rs.map(f));
    return [
      {
        key: p.key,
        policy: p.policy,
        label: p.label,
        ratio: p.ratio,
        ...(p.budgetRule && { budgetRule: p.budgetRule }),
        ...(p.asiMode && { asiMode: p.asiMode }),
        cases: rs.length,
        psnr: finite.length ? mean(finite) : null,
        identical: rs.length - finite.length,
        ssim: avg((r) => r.ssim),
        bitAgreement: avg((r) => r.bitAgreement),
        kvHeldBytes: avg((r) => r.kvHeldBytes),
        kvPeakBytes: avg((r) => r.kvPeakBytes),
        kvHeldRatio: avg((r) => r.kvHeldRatio),
        kvPeakRatio: avg((r) => r.kvPeakRatio),
        ms: avg((r) => r.ms),
        timeRatio: avg((r) => r.timeRatio),
      },
    ];
  });
}

/** rows in the order the tables show them: by rule, then ratio, then PSNR (best first; identical images first of all) */
export function rankRows(rows: LeaderboardRow[]): LeaderboardRow[] {
  const psnrKey = (r: LeaderboardRow) => (r.psnr === null ? Infinity : r.psnr);
  const rule = (r: LeaderboardRow) => r.budgetRule ?? '';
  const order = (a: LeaderboardRow, b: LeaderboardRow) =>
    rule(a).localeCompare(rule(b)) || a.ratio - b.ratio || psnrKey(b) - psnrKey(a) || a.label.localeCompare(b.label);
  return [...rows].sort(order);
}

const f = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mib = (b: number) => f(b / 2 ** 20, 2);

export function formatPsnr(r: Pick<LeaderboardRow, 'psnr' | 'identical' | 'cases'>): string {
  if (r.psnr === null) return '∞ (identical)';
  return r.identical ? `${f(r.psnr, 2)} (${r.identical}/${r.cases} identical)` : f(r.psnr, 2);
}

export function formatLeaderboard(lb: Leaderboard): string {
  const rules = lb.rows.some((r) => r.budgetRule);
  // rows of a merged or partial evaluation may average different numbers of cases: then each says how many
  const uneven = lb.rows.some((r) => r.cases !== lb.prompts.length * lb.seeds.length);
  const refMean = (k: 'ms' | 'kvHeldBytes' | 'kvPeakBytes') => mean(lb.references.map((r) => r[k]));
  const header = ['policy', 'ratio', ...(rules ? ['budget rule'] : []), ...(uneven ? ['cases'] : []), 'PSNR dB', 'SSIM'];
  header.push('bits agree (last scale)', 'KV held / full');
  header.push('KV peak / full', 'KV held MiB', 'KV peak MiB', 'time ms', 'time / full');
  const lines = [
    `# Leaderboard: ${lb.model.name} on ${lb.provider.used}, ${lb.resolution} ${lb.image.width}x${lb.image.height}`,
    '',
    `${lb.prompts.length} prompt(s) x ${lb.seeds.length} seed(s) (${lb.seeds.join(', ')}); ` +
      'every row is the mean over them against the full-cache run of the same prompt and seed.',
    `Full cache: ${f(refMean('ms'), 0)} ms per image on average, KV held ${mib(refMean('kvHeldBytes'))} MiB, ` +
      `peak ${mib(refMean('kvPeakBytes'))} MiB (float32; bf16 is half).`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
  ];
  for (const r of lb.rows) {
    const name = r.asiMode ? `${r.policy} (ASI ${r.asiMode})` : r.policy;
    const cells = [name, String(r.ratio), ...(rules ? [r.budgetRule ?? '-'] : []), ...(uneven ? [String(r.cases)] : [])];
    cells.push(formatPsnr(r), f(r.ssim, 4), f(r.bitAgreement, 3));
    cells.push(f(r.kvHeldRatio, 3), f(r.kvPeakRatio, 3), mib(r.kvHeldBytes), mib(r.kvPeakBytes), f(r.ms, 0), f(r.timeRatio, 2));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (lb.profiles.length) {
    lines.push('', 'ScaleKV profiles:', '');
    for (const p of lb.profiles) {
      lines.push(`- ratio ${p.ratio}${p.rule ? `, ${p.rule} rule` : ''}${p.asiMode ? `, ASI ${p.asiMode}` : ''}: ${p.path} (${p.origin})`);
    }
  }
  if (lb.notes.length) lines.push('', ...lb.notes.map((n) => `- ${n}`));
  lines.push('');
  return lines.join('\n');
}
