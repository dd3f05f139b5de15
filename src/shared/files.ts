/**
 * Files read on behalf of files a user (or an attacker) supplied: opened without ever blocking, read
 * only when regular and small enough, and kept inside the folder that names them.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ScaleKVError } from './errors';

/**
 * Opens a regular file for reading without ever blocking: a FIFO, socket or device named like a
 * checkpoint would make a plain open (or its first read) wait forever, so the file is opened
 * non-blocking and its type checked on the open descriptor (no window between a stat and the open).
 */
export function openRegularFile(path: string, what = 'checkpoint file'): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ScaleKVError('E_CHECKPOINT_MISSING', `${capital(what)} not found: ${path}`);
    if (code === 'EISDIR') throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} is a folder, not a ${what}.`);
    if (code === 'ELOOP') throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} is a symbolic link that loops back on itself.`);
    throw new ScaleKVError('E_CHECKPOINT_MISSING', `Cannot open ${path}: ${(e as Error).message}`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    if (st.isDirectory()) throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} is a folder, not a ${what}.`);
    const kind = st.isFIFO()
      ? 'a named pipe (FIFO)'
      : st.isSocket()
        ? 'a socket'
        : st.isCharacterDevice() || st.isBlockDevice()
          ? 'a device'
          : 'not a regular file';
    throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is ${kind}, not a ${what}: only regular files are read.`);
  }
  return { fd, size: st.size };
}

/** A whole small file (JSON indexes, manifests, configs, images), refused past maxBytes before it is read. */
export function readSmallBytes(path: string, maxBytes: number, what: string): Buffer {
  const { fd, size } = openRegularFile(path, what);
  try {
    if (size > maxBytes) {
      throw new ScaleKVError('E_CHECKPOINT_CORRUPT', `${path} is ${size} bytes; a ${what} is never larger than ${maxBytes} bytes.`);
    }
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, size - done, done);
      if (n <= 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

export function readSmallFile(path: string, maxBytes: number, what: string): string {
  return readSmallBytes(path, maxBytes, what).toString('utf8');
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Whether p is root or lies under it (both absolute, compared as written). */
function isInside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r));
}

/** p with its symbolic links resolved, or p itself when it does not exist (yet) */
export function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * `name`, as written in a file inside `folder`, resolved to a path inside that folder; or why not:
 * not a file name, absolute, '..' out of the folder, or a link whose target lies outside `linkRoot`
 * (the folder's real path unless given).
 */
export function resolveInside(folder: string, name: unknown, linkRoot?: string): { path: string } | { why: string } {
  if (typeof name !== 'string' || !name || name.includes('\0')) return { why: 'is not a file name' };
  if (isAbsolute(name)) return { why: 'is an absolute path' };
  const p = resolve(folder, name);
  if (!isInside(resolve(folder), p)) return { why: 'points outside the folder' };
  const real = realOrSelf(p);
  if (real !== p && !isInside(linkRoot ?? realOrSelf(folder), real)) return { why: `is a link to ${real}, outside the folder` };
  return { path: p };
}
