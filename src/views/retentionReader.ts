/** Reads one (layer, scale, row, head) slice of a run's retention record from disk. */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { RetentionSlice, Selection } from '../shared/protocol';
import type { RunRecord } from '../shared/types';

export function readRetentionSlice(runDir: string, run: RunRecord, sel: Selection): RetentionSlice {
  const r = run.retention;
  if (!r) throw new Error('This run did not record kept tokens.');
  const e = r.entries.find((x) => x.layer === sel.layer && x.scaleIndex === sel.scaleIndex);
  if (!e) throw new Error(`No retention entry for layer ${sel.layer} at scale ${sel.scaleIndex}.`);
  if (sel.row >= r.batchRows || sel.head >= r.heads) throw new Error(`Row ${sel.row} / head ${sel.head} is outside this run (${r.batchRows} rows, ${r.heads} heads).`);
  if (e.offset < 0) return { runId: run.id, selection: sel, kept: Array.from({ length: e.count }, (_, i) => i), cacheLen: e.cacheLen };
  const at = e.offset + (sel.row * r.heads + sel.head) * e.count;
  const buf = Buffer.alloc(e.count * 4);
  const fd = openSync(join(runDir, r.file), 'r');
  try {
    const n = readSync(fd, buf, 0, buf.length, at * 4);
    if (n !== buf.length) throw new Error(`${join(runDir, r.file)} is shorter than its index says.`);
  } finally {
    closeSync(fd);
  }
  return { runId: run.id, selection: sel, kept: Array.from(new Int32Array(buf.buffer, buf.byteOffset, e.count)), cacheLen: e.cacheLen };
}
