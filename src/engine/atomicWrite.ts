/** Files that appear complete or not at all: written under a temporary name in the same folder, then renamed. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';

export function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
