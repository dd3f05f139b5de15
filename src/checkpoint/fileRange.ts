/** Positional reads from an open file, so tensors are read one at a time instead of loading files. */
import { closeSync, readSync } from 'node:fs';
import { ScaleKVError } from '../shared/errors';
import { openRegularFile } from '../shared/files';

export class FileRange {
  readonly fd: number;
  readonly size: number;
  private closed = false;

  constructor(readonly path: string) {
    const { fd, size } = openRegularFile(path);
    this.fd = fd;
    this.size = size;
  }

  read(offset: number, length: number, what: string): Uint8Array {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new ScaleKVError(
        'E_CHECKPOINT_TRUNCATED',
        `${this.path} is truncated or corrupt: ${what} needs bytes ${offset}..${offset + length} but the file has ${this.size}.`,
      );
    }
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n <= 0) throw new ScaleKVError('E_CHECKPOINT_TRUNCATED', `${this.path}: unexpected end of file while reading ${what}.`);
      done += n;
    }
    return buf;
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}
