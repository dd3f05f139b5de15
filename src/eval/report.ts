/** The prompt check's summary: shares of images matching colour, colour+position, and all three, as JSON and Markdown. */
import type { CheckResult } from './checker';

export interface CheckItem extends CheckResult {
  image: string;
}

export interface CheckReport {
  format: 'scalekv-prompt-check';
  version: 1;
  model: string;
  policy: string;
  resolution: string;
  seed: number;
  /** the sampling the images were drawn with (reports before it was recorded used the defaults) */
  sampling?: { cfg: number; tau: number; topK: number; topP: number };
  count: number;
  shares: { colour: number; colourPosition: number; colourPositionShape: number };
  items: CheckItem[];
}

export function summarise(
  items: CheckItem[],
  meta: Pick<CheckReport, 'model' | 'policy' | 'resolution' | 'seed' | 'sampling'>,
): CheckReport {
  const n = items.length;
  const share = (f: (i: CheckItem) => boolean) => (n ? items.filter(f).length / n : 0);
  return {
    format: 'scalekv-prompt-check',
    version: 1,
    ...meta,
    count: n,
    shares: {
      colour: share((i) => i.colour),
      colourPosition: share((i) => i.colour && i.position),
      colourPositionShape: share((i) => i.colour && i.position && i.shape),
    },
    items,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const yes = (b: boolean) => (b ? 'yes' : 'no');

export function formatReport(r: CheckReport): string {
  const lines = [
    `# Prompt check: ${r.model}`,
    '',
    `${r.count} prompts, policy ${r.policy}, resolution ${r.resolution}, seed ${r.seed}${r.sampling ? `, cfg ${r.sampling.cfg}, tau ${r.sampling.tau}, top-k ${r.sampling.topK}, top-p ${r.sampling.topP}` : ''}.`,
    '',
    '| colour | colour + position | colour + position + shape |',
    '|---|---|---|',
    `| ${pct(r.shares.colour)} | ${pct(r.shares.colourPosition)} | ${pct(r.shares.colourPositionShape)} |`,
    '',
    '| prompt | found (colour, position, shape) | colour | position | shape | image |',
    '|---|---|---|---|---|---|',
    ...r.items.map((i) => {
      const f = i.found[0];
      const found = f ? `${f.colour}, ${f.position}, ${f.shape}` : 'no object';
      return `| ${i.prompt} | ${found} | ${yes(i.colour)} | ${yes(i.position)} | ${yes(i.shape)} | ${i.image} |`;
    }),
    '',
  ];
  return lines.join('\n');
}
