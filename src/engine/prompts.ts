/**
 * Prompt files (one prompt per line, # starts a comment), read with bounds: the size is checked
 * before anything is read, the bytes must be UTF-8, and the count is capped, so a wrong file (a
 * binary, a data dump) fails at once with a sentence instead of starting hours of generation.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { ScaleKVError } from '../shared/errors';

const MAX_PROMPTS_FILE_BYTES = 2 ** 20;
export const MAX_PROMPTS = 1000;

const bad = (m: string): never => {
  throw new ScaleKVError('E_INVALID_REQUEST', m);
};

function parsePrompts(text: string, what: string): string[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!lines.length) bad(`${what} has no prompts (one per line; # starts a comment).`);
  if (lines.length > MAX_PROMPTS) bad(`${what} has ${lines.length} prompts; at most ${MAX_PROMPTS} are accepted.`);
  return lines;
}

export function readPromptsFile(path: string): string[] {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) bad(`${path} is not a file.`);
    size = st.size;
  } catch (e) {
    if (e instanceof ScaleKVError) throw e;
    return bad(`Prompts file not found: ${path}`);
  }
  if (size > MAX_PROMPTS_FILE_BYTES) bad(`${path} is ${(size / 2 ** 20).toFixed(1)} MiB; a prompts file may be at most 1 MiB.`);
  // read no more than the limit even if the file grows after the check
  const buf = Buffer.alloc(Math.min(size, MAX_PROMPTS_FILE_BYTES) + 1);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n > MAX_PROMPTS_FILE_BYTES) bad(`${path} is larger than 1 MiB; a prompts file may be at most 1 MiB.`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n));
  } catch {
    const at = firstInvalidUtf8(buf.subarray(0, n));
    return bad(`${path} is not valid UTF-8 text (first bad byte at offset ${at}). Save it as UTF-8, one prompt per line.`);
  }
  return parsePrompts(text, path);
}

/** offset of the first byte that breaks UTF-8 (the end, for a truncated last character), for the error message */
function firstInvalidUtf8(b: Uint8Array): number {
  let lo = 0;
  let hi = b.length;
  // the longest prefix without an error in streaming mode: once a bad byte is in, every longer prefix fails
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  // a multi-byte character cut short by the bad byte starts at its lead byte
  for (let i = lo - 1; i >= Math.max(0, lo - 3); i--) {
    if (b[i] < 0x80) break;
    if (b[i] >= 0xc0) {
      const need = b[i] >= 0xf0 ? 4 : b[i] >= 0xe0 ? 3 : 2;
      return lo - i < need ? i : lo;
    }
  }
  return lo;
}
