/** Reads one (layer, scale, row, head) slice of a run's retention record from disk. */
import { closeSync, readSync } from 'node:fs';
import { openRegularFile } from '../shared/files';
import type { RetentionSlice, Selection } from '../shared/protocol';
import type { RunRecord } from '../shared/types';
import { runFile } from './runFolder';

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** runDir: the folder of the run's run.json; the retention file must lie inside it */
export function readRetentionSlice(runDir: string, run: RunRecord, sel: Selection): RetentionSlice {
  const r = run.retention;
  if (!r) throw new Error('This run did not record kept tokens.');
  if (!Array.isArray(r.entries) || !isCount(r.batchRows) || !isCount(r.heads))
    throw new Error(`${runDir}: the retention index lacks rows, heads or entries.`);
  const e = r.entries.find((x) => x && x.layer === sel.layer && x.scaleIndex === sel.scaleIndex);
  if (!e) throw new Error(`No retention entry for layer ${sel.layer} at scale ${sel.scaleIndex}.`);
  if (!isCount(sel.row) || !isCount(sel.head) || sel.row >= r.batchRows || sel.head >= r.heads) {
    throw new Error(`Row ${sel.row} / head ${sel.head} is outside this run (${r.batchRows} rows, ${r.heads} heads).`);
  }
  if (!isCount(e.count) || !Number.isSafeInteger(e.offset) || e.offset < -1)
    throw new Error(`${runDir}: retention entry (layer ${e.layer}, scale ${e.scaleIndex}) is malformed.`);
  if (e.offset < 0)
    return {
      runId: run.id,
      selection: sel,
      kept: Array.from({ length: Math.min(e.count, e.cacheLen) }, (_, i) => i),
      cacheLen: e.cacheLen,
    };
  const file = runFile(runDir, r.file, 'retention record');
  const at = (e.offset + (sel.row * r.heads + sel.head) * e.count) * 4;
  const { fd, size } = openRegularFile(file, 'retention record');
  try {
    // checked before allocating: a hostile count must not become a huge buffer
    if (at + e.count * 4 > size) throw new Error(`${file} is shorter than its index says (${at + e.count * 4} > ${size} bytes).`);
    const buf = Buffer.alloc(e.count * 4);
    const n = readSync(fd, buf, 0, buf.length, at);
    if (n !== buf.length) throw new Error(`${file} is shorter than its index says.`);
    return { runId: run.id, selection: sel, kept: Array.from(new Int32Array(buf.buffer, buf.byteOffset, e.count)), cacheLen: e.cacheLen };
  } finally {
    closeSync(fd);
  }
}
