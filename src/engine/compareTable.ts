/** The human-readable table `scalekv compare` writes next to its JSON. */
import type { FidelityReport, RunRecord } from '../shared/types';

const mb = (b: number) => (b / 2 ** 20).toFixed(2);
const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : x === Infinity ? 'inf' : 'n/a');

export function formatCompareTable(ref: RunRecord, cands: RunRecord[], reports: FidelityReport[]): string {
  const lines = [
    `# Compare: ${ref.model.name} on ${ref.provider.used}, ${ref.request.resolution} ${ref.images[0].width}x${ref.images[0].height}, seed ${ref.request.seed}`,
    '',
    `Reference (full cache): KV held ${mb(ref.kv.finalHeldBytes)} MiB, peak ${mb(ref.kv.peakBytes)} MiB (float32; bf16 is half), ${fmt(ref.totalMs, 0)} ms.`,
    '',
    '| policy | ratio | KV held MiB | held / full | KV peak MiB | peak / full | PSNR dB | SSIM | LPIPS | bits agree (last scale) | time ms | time / full |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  cands.forEach((c, i) => {
    const r = reports[i];
    const ps = r.images.map((x) => x.psnr);
    const ss = r.images.map((x) => x.ssim);
    const mean = (a: number[]) =>
      a.some((v) => v === Infinity) && a.every((v) => v === Infinity) ? Infinity : a.reduce((p, q) => p + q, 0) / a.length;
    lines.push(
      `| ${c.request.policy.name} | ${c.request.policy.ratio ?? '-'} | ${mb(c.kv.finalHeldBytes)} | ${fmt(r.kvHeldRatio, 3)} | ${mb(c.kv.peakBytes)} | ${fmt(r.kvPeakRatio, 3)} | ${fmt(mean(ps))} | ${fmt(mean(ss), 4)} | n/a | ${fmt(r.tokenAgreement.at(-1)?.agreement ?? NaN, 3)} | ${fmt(c.totalMs, 0)} | ${fmt(c.totalMs / ref.totalMs, 2)} |`,
    );
  });
  lines.push(
    '',
    'Per-scale time (ms):',
    '',
    `| scale | full | ${cands.map((c) => c.request.policy.name).join(' | ')} |`,
    `|---|---|${cands.map(() => '---').join('|')}|`,
  );
  ref.timings.forEach((t, si) =>
    lines.push(`| ${si} | ${fmt(t.ms, 1)} | ${cands.map((c) => fmt(c.timings[si]?.ms ?? NaN, 1)).join(' | ')} |`),
  );
  lines.push('', reports[0]?.lpipsNote ?? '', '');
  return lines.join('\n');
}
