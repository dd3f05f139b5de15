/**
 * Progress lines for the CLI. Each line names what is running now (the engine reports a layer before
 * it runs it). On a terminal the line is rewritten in place; in a log a line is printed when the
 * prompt, scale or stage changes (at most one a second, so fast scales do not flood it), and within one
 * phase at most every few seconds, so a long scale shows its layers advancing.
 */
import type { Progress } from '../shared/types';

export interface PrinterOptions {
  write(s: string): void;
  /** rewrite one line in place (a terminal) instead of appending lines (a log, a pipe) */
  tty: boolean;
  /** before each line, e.g. "calibrating 1M: " */
  prefix?: string;
  /** a log's lines within one phase come at most this often (ms) */
  intervalMs?: number;
  /** and across phases at most this often (ms) */
  minGapMs?: number;
  now?: () => number;
}

/** the part of a message that changes only when the phase does: the layer counter dropped */
function phaseOf(p: Progress): string {
  return `${p.stage}|${p.message.replace(/,? ?layer \d+\/\d+/, '')}`;
}

export function progressPrinter(o: PrinterOptions): ((p: Progress) => void) & { done(): void } {
  const now = o.now ?? (() => Date.now());
  const interval = o.intervalMs ?? 5000;
  const minGap = o.minGapMs ?? 1000;
  let lastPhase = '';
  let lastLine = '';
  let lastAt = -Infinity;
  let open = false; // a terminal line waits for its newline
  const print = (p: Progress) => {
    const line = `${o.prefix ?? ''}[${(p.fraction * 100).toFixed(0).padStart(3)}%] ${p.message}`;
    if (line === lastLine) return;
    const phase = phaseOf(p);
    const t = now();
    if (o.tty) {
      if (phase !== lastPhase && open) o.write('\n');
      o.write(`\r\x1b[K${line}`);
      open = true;
    } else {
      if (t - lastAt < (phase === lastPhase ? interval : minGap)) return;
      o.write(line + '\n');
    }
    lastPhase = phase;
    lastLine = line;
    lastAt = t;
  };
  return Object.assign(print, {
    done() {
      if (open) o.write('\n');
      open = false;
    },
  });
}
