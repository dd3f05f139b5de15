/**
 * onnxruntime-node 1.30 crashes (SIGSEGV, exit 139, no message) when it creates a session in a
 * process whose command line is longer than about 28.9 KB (bench/argv-crash.mjs measures it:
 * 28,971 bytes of argv run, one more byte crashes). The CLI refuses long command lines before
 * loading anything, well below that, and points to the prompts file instead.
 */
import { ScaleKVError } from '../shared/errors';

/** measured crash threshold, for the message */
export const ORT_ARGV_CRASH_BYTES = 28_971;
/** what the CLI accepts: about half the crash threshold, so a different node path or flags cannot reach it */
const ARGV_LIMIT_BYTES = 16 * 1024;

/** the bytes the kernel passes as the command line: every argument plus its terminating NUL */
export function argvBytes(argv: readonly string[]): number {
  return argv.reduce((a, s) => a + Buffer.byteLength(s) + 1, 0);
}

export function checkArgvLength(argv: readonly string[], limit = ARGV_LIMIT_BYTES): void {
  const n = argvBytes(argv);
  if (n <= limit) return;
  throw new ScaleKVError(
    'E_USAGE',
    `The command line is ${(n / 1024).toFixed(1)} KB; the CLI accepts at most ${limit / 1024} KB because onnxruntime-node crashes past ` +
      `about ${(ORT_ARGV_CRASH_BYTES / 1000).toFixed(1)} KB. Put the prompts in a file, one per line, and pass --prompts-file FILE ` +
      '(or --prompts-file - to read them from stdin).',
  );
}
