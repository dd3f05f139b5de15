/**
 * Outputs appear complete or not at all: a file is written under a temporary name in its own folder
 * and renamed over the target (a rename within one folder is atomic), and a failed write removes what
 * it left. Output locations are checked before any computing, so a run does not fail after minutes
 * on a folder it could never write.
 */
import { accessSync, constants, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ScaleKVError } from './errors';

/** a write error as the user can act on it: a full disk, a read-only or missing folder */
export function outputError(e: unknown, target: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new ScaleKVError(
      'E_DISK_FULL',
      `No space left on the device while writing ${target}; nothing partial was kept. Free some space or choose another output folder.`,
    );
  if (code === 'EROFS') return new ScaleKVError('E_OUTPUT_PATH', `Cannot write ${target}: the file system is read-only.`);
  if (code === 'EACCES' || code === 'EPERM') return new ScaleKVError('E_OUTPUT_PATH', `Cannot write ${target}: permission denied.`);
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new ScaleKVError('E_OUTPUT_PATH', `Cannot write ${target}: its folder does not exist (any more).`);
  if (code === 'EISDIR') return new ScaleKVError('E_OUTPUT_PATH', `Cannot write ${target}: it is a folder.`);
  return e;
}

/** a name beside the target that no other writer picks, hidden, so a folder listing does not show it as a result */
function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

export function writeFileAtomic(path: string, data: string | NodeJS.ArrayBufferView): void {
  const tmp = tempNameFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw outputError(e, path);
  }
}

function writable(dir: string, what: string): void {
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ScaleKVError(
      'E_OUTPUT_PATH',
      `${what} ${dir} is not writable (${code === 'EROFS' ? 'read-only file system' : code}). Choose another output location.`,
    );
  }
}

function statOrNull(p: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/**
 * A folder that results go into: an existing writable folder, or a new one whose parent exists (it is
 * made then). A file in its place, a missing parent or a read-only location fail at once.
 */
export function prepareOutputFolder(dir: string): void {
  const st = statOrNull(dir);
  if (st && !st.isDirectory()) throw new ScaleKVError('E_OUTPUT_PATH', `The output folder ${dir} is a file. Choose a folder.`);
  if (!st) {
    const parent = dirname(dir);
    const pst = statOrNull(parent);
    if (!pst) throw new ScaleKVError('E_OUTPUT_PATH', `Cannot make the output folder ${dir}: its parent folder ${parent} does not exist.`);
    if (!pst.isDirectory()) throw new ScaleKVError('E_OUTPUT_PATH', `Cannot make the output folder ${dir}: ${parent} is a file.`);
    writable(parent, 'The folder');
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw outputError(e, dir);
    }
  }
  writable(dir, 'The output folder');
}

/** A file a result is written to: its folder exists and is writable, and it is not itself a folder. */
export function checkOutputFile(path: string): void {
  const dir = dirname(path);
  const dst = statOrNull(dir);
  if (!dst) throw new ScaleKVError('E_OUTPUT_PATH', `Cannot write ${path}: the folder ${dir} does not exist.`);
  if (!dst.isDirectory()) throw new ScaleKVError('E_OUTPUT_PATH', `Cannot write ${path}: ${dir} is a file, not a folder.`);
  if (statOrNull(path)?.isDirectory()) throw new ScaleKVError('E_OUTPUT_PATH', `Cannot write ${path}: it is a folder. Give a file name.`);
  writable(dir, 'The folder');
}
