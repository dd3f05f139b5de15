#!/usr/bin/env node
/**
 * The tables of bench/fidelity.md from a fidelity run's folder (bench/fidelity_run.mjs --out):
 *
 *   node bench/fidelity_summary.mjs DIR [CHECK.json ...] > tables.md
 *
 * DIR holds leaderboard.json (and prompt-check.json); CHECK.json files (the prompt-check.json of each
 * call of a run split over calls, whose leaderboards were merged into DIR) replace DIR's own prompt check:
 * their shares are combined per row, weighted by the images each checked.
 * Per budget rule: PSNR / SSIM / last-scale bit agreement of every policy at every ratio side by side,
 * the KV each one held and peaked at (as a fraction of the full cache), where ScaleKV ranks at each ratio
 * and by how much the best policy beats it (or it beats the best baseline), and the prompt check per row.
 * Numbers only; the reading is written by hand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: fidelity_summary.mjs DIR (a fidelity run folder with leaderboard.json)');
  process.exit(2);
}
const lb = JSON.parse(readFileSync(join(dir, 'leaderboard.json'), 'utf8'));
const checkFiles = process.argv.length > 3 ? process.argv.slice(3) : [join(dir, 'prompt-check.json')].filter((f) => existsSync(f));
const combined = new Map();
for (const file of checkFiles) {
  for (const r of JSON.parse(readFileSync(file, 'utf8')).rows) {
    const c = combined.get(r.key) ?? { ...r, images: 0, colour: 0, colourPosition: 0, colourPositionShape: 0 };
    for (const k of ['colour', 'colourPosition', 'colourPositionShape']) c[k] = (c[k] * c.images + r[k] * r.images) / (c.images + r.images || 1);
    c.images += r.images;
    combined.set(r.key, c);
  }
}
const checks = [...combined.values()];

const f = (x, d) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const pct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : 'n/a');
const officialFirst = (a, b) => (a === 'official' ? -1 : b === 'official' ? 1 : a.localeCompare(b));
const rules = [...new Set(lb.rows.map((r) => r.budgetRule ?? '-'))].sort(officialFirst);
const ratios = [...new Set(lb.rows.map((r) => r.ratio))].sort((a, b) => a - b);
const policies = [...new Set(lb.rows.map((r) => r.policy))];
const row = (rule, policy, ratio) => lb.rows.find((r) => (r.budgetRule ?? '-') === rule && r.policy === policy && r.ratio === ratio);
/** an image identical to the full cache's (PSNR null) ranks first */
const psnrOf = (r) => (r ? (r.psnr === null ? Infinity : r.psnr) : -Infinity);

const out = [];
const refMs = lb.references.reduce((a, r) => a + r.ms, 0) / lb.references.length;
out.push(
  `${lb.model.name}, ${lb.resolution} ${lb.image.width}x${lb.image.height}, provider ${lb.provider.used}, seeds ${lb.seeds.join(', ')}; ` +
    `full cache ${f(refMs / 1000, 1)} s per image.`,
  '',
);
for (const rule of rules) {
  const cases = [...new Set(lb.rows.filter((r) => (r.budgetRule ?? '-') === rule).map((r) => r.cases))];
  out.push(`### ${rule} rule (${cases.join('/')} prompts per row)`, '');
  const per = (what) => ratios.map((r) => `${what} ${r * 100}%`);
  const head = ['policy', ...per('PSNR'), ...per('SSIM'), ...per('bits'), ...per('held/peak')];
  out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  // by PSNR at 10% (or the first ratio)
  const key = (p) => psnrOf(row(rule, p, 0.1) ?? row(rule, p, ratios[0]));
  const order = [...policies].sort((a, b) => key(b) - key(a));
  for (const p of order) {
    const rs = ratios.map((r) => row(rule, p, r));
    const psnr = rs.map((r) => (r ? (r.psnr === null ? 'identical' : f(r.psnr, 2) + (r.identical ? ` (${r.identical} id.)` : '')) : '-'));
    const cells = [p, ...psnr, ...rs.map((r) => (r ? f(r.ssim, 3) : '-')), ...rs.map((r) => (r ? f(r.bitAgreement, 3) : '-'))];
    cells.push(...rs.map((r) => (r ? `${f(r.kvHeldRatio, 3)} / ${f(r.kvPeakRatio, 3)}` : '-')));
    out.push(`| ${cells.join(' | ')} |`);
  }
  out.push('');
  const cols = ['ratio', 'ScaleKV PSNR rank', 'best policy (PSNR)', 'best baseline (PSNR)', 'ScaleKV - best baseline dB'];
  cols.push('ScaleKV SSIM rank', 'ScaleKV - best baseline SSIM');
  out.push(`| ${cols.join(' | ')} |`);
  out.push('|---|---|---|---|---|---|---|');
  for (const ratio of ratios) {
    const rs = policies.map((p) => row(rule, p, ratio)).filter(Boolean);
    const s = rs.find((r) => r.policy === 'scalekv');
    if (!s) continue;
    const byPsnr = [...rs].sort((a, b) => psnrOf(b) - psnrOf(a));
    const bySsim = [...rs].sort((a, b) => b.ssim - a.ssim);
    const base = rs.filter((r) => r.policy !== 'scalekv');
    const bestBase = [...base].sort((a, b) => psnrOf(b) - psnrOf(a))[0];
    const bestBaseSsim = Math.max(...base.map((r) => r.ssim));
    const cells = [ratio, `${byPsnr.indexOf(s) + 1} of ${rs.length}`, `${byPsnr[0].policy} (${f(byPsnr[0].psnr, 2)})`];
    cells.push(`${bestBase.policy} (${f(bestBase.psnr, 2)})`, f(s.psnr - bestBase.psnr, 2), `${bySsim.indexOf(s) + 1} of ${rs.length}`);
    cells.push(f(s.ssim - bestBaseSsim, 3));
    out.push(`| ${cells.join(' | ')} |`);
  }
  out.push('');
}
// paired per prompt: ScaleKV minus each policy, mean +- 1.96 standard errors, prompts where ScaleKV is ahead
const cellOf = new Map(lb.perPrompt.map((c) => [`${c.row}#${c.prompt}#${c.seed}`, c]));
out.push('### ScaleKV minus each policy, paired per prompt (PSNR dB: mean +- 1.96 SE, prompts ScaleKV is ahead)', '');
const others = policies.filter((p) => p !== 'scalekv');
out.push(`| rule, ratio | ${others.join(' | ')} |`, `|---|${others.map(() => '---').join('|')}|`);
for (const rule of rules) {
  for (const ratio of ratios) {
    const s = row(rule, 'scalekv', ratio);
    if (!s) continue;
    const mine = lb.perPrompt.filter((c) => c.row === s.key && c.psnr !== null);
    const cells = others.map((p) => {
      const o = row(rule, p, ratio);
      const d = mine.map((c) => [c, o && cellOf.get(`${o.key}#${c.prompt}#${c.seed}`)]).filter(([, x]) => x && x.psnr !== null);
      const xs = d.map(([c, x]) => c.psnr - x.psnr);
      if (xs.length < 2) return '-';
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      const se = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) / xs.length);
      return `${m >= 0 ? '+' : ''}${f(m, 2)} +- ${f(1.96 * se, 2)} (${xs.filter((x) => x > 0).length}/${xs.length})`;
    });
    out.push(`| ${rule} ${ratio * 100}% | ${cells.join(' | ')} |`);
  }
}
out.push('');
if (checks.length) {
  out.push('### Prompt check (share of images showing the prompt\'s colour / + position / + shape)', '');
  out.push('| policy | ratio | rule | images | colour | colour + position | all three |', '|---|---|---|---|---|---|---|');
  for (const c of checks) {
    const name = c.key === 'full' ? 'full cache' : c.label.replace(/ \[\w+ rule\]$/, '');
    const cells = [name, c.ratio ?? '-', c.budgetRule ?? '-', c.images, pct(c.colour), pct(c.colourPosition), pct(c.colourPositionShape)];
    out.push(`| ${cells.join(' | ')} |`);
  }
  out.push('');
}
console.log(out.join('\n'));
