/** Prompts for the CLI: --prompt flags, then the lines of --prompts-file (a file, or - for stdin). */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ScaleKVError } from '../shared/errors';
import { list, str, type ParsedArgs } from './args';

/** a prompts file is text for people to write; a bigger one is a mistake (a checkpoint, a log) */
const PROMPTS_FILE_LIMIT = 4 * 2 ** 20;

/** reads at most limit bytes (+1 to know it is over) from a file or fd, so a huge or endless input is refused in bounded memory */
function readBounded(fd: number, what: string, limit: number): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // a non-blocking stdin pipe with nothing yet
      if (code === 'EOF') break;
      throw new ScaleKVError('E_INVALID_REQUEST', `Cannot read prompts from ${what}: ${(e as Error).message}`);
    }
    if (n === 0) break;
    total += n;
    if (total > limit)
      throw new ScaleKVError('E_INVALID_REQUEST', `${what} is over ${limit / 2 ** 20} MiB; a prompts file holds one prompt per line.`);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parsePromptLines(text: string, what: string): string[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!lines.length) throw new ScaleKVError('E_INVALID_REQUEST', `${what} has no prompts (one per line; # starts a comment).`);
  return lines;
}

export function readPromptsFile(path: string, limit = PROMPTS_FILE_LIMIT): string[] {
  if (path === '-') {
    if (process.stdin.isTTY) process.stderr.write('reading prompts from stdin, one per line (end with Ctrl-D)\n');
    return parsePromptLines(readBounded(0, 'stdin', limit), 'stdin');
  }
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ScaleKVError(
      'E_INVALID_REQUEST',
      code === 'ENOENT' ? `Prompts file not found: ${path}` : `Cannot open the prompts file ${path}: ${(e as Error).message}`,
    );
  }
  try {
    if (fstatSync(fd).isDirectory()) throw new ScaleKVError('E_INVALID_REQUEST', `${path} is a folder; --prompts-file takes a text file.`);
    return parsePromptLines(readBounded(fd, path, limit), path);
  } finally {
    closeSync(fd);
  }
}

/** --prompt values first, then the file's lines */
export function promptsFrom(a: ParsedArgs): string[] {
  const file = str(a, 'prompts-file');
  return [...list(a, 'prompt'), ...(file ? readPromptsFile(file) : [])];
}
