/**
 * One job at a time on the engine's loaded model: a second request (a describe of another model, a
 * notebook cell, a command) waits its turn instead of swapping the model out from under a running
 * generation. A waiting job can be cancelled; it then leaves the queue at once.
 */
import { cancelled } from '../shared/errors';

export class JobQueue {
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;

  /** jobs running or waiting */
  get size(): number {
    return this.queued;
  }

  run<T>(job: () => Promise<T>, o: { signal?: AbortSignal; onWait?(): void } = {}): Promise<T> {
    const before = this.tail;
    let finished!: () => void;
    const mine = new Promise<void>((r) => (finished = r));
    // the next job waits for this one and for everything before it, even if this one leaves early
    this.tail = before.then(() => mine);
    if (this.queued > 0) o.onWait?.();
    this.queued++;
    return (async () => {
      try {
        await untilOrAbort(before, o.signal);
        if (o.signal?.aborted) throw cancelled();
        return await job();
      } finally {
        this.queued--;
        finished();
      }
    })();
  }
}

function untilOrAbort(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, reject);
  });
}
