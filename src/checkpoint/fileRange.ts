/** Positional reads from an open file, so tensors are read one at a time instead of loading files. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ScaleKVError } from '../shared/errors';

export class FileRange {
  readonly fd: number;
  readonly size: number;
  private closed = false;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ScaleKVError('E_CHECKPOINT_MISSING', `Checkpoint file not found: ${path}`);
      if (code === 'EISDIR') throw new ScaleKVError('E_CHECKPOINT_MISSING', `${path} is a folder, not a checkpoint file.`);
      throw new ScaleKVError('E_CHECKPOINT_MISSING', `Cannot open ${path}: ${(e as Error).message}`);
    }
    this.size = fstatSync(this.fd).size;
  }

  read(offset: number, length: number, what: string): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size) {
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
