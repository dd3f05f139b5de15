/**
 * The extension host's handle on the engine process: typed requests with progress and cancellation.
 * A crash, an out-of-memory kill or a hang of the engine rejects the pending requests with a clear
 * error and the next request starts a fresh process; the extension host itself never waits on it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { ScaleKVError } from '../shared/errors';
import type { Progress } from '../shared/types';
import type { EngineCall, EngineEvent, EngineMethod, EngineReplyOf, EngineRequest, EngineRequestOf } from './protocol';

export interface CancelToken {
  isCancellationRequested: boolean;
  onCancellationRequested(cb: () => void): { dispose(): void } | void;
}

interface Pending {
  resolve(r: EngineReplyOf[EngineMethod]): void;
  reject(e: ScaleKVError): void;
  onProgress?(p: Progress): void;
}

export interface RequestOptions {
  onProgress?(p: Progress): void;
  token?: CancelToken;
}

export interface EngineClientOptions {
  /** path of the built worker (dist/worker.js) */
  workerPath: string;
  /** how long a cancelled request may take to stop before the process is killed (ms) */
  cancelGraceMs?: number;
  /** how long the process may take to say it is ready (ms) */
  startTimeoutMs?: number;
  onLog?(level: string, message: string): void;
  /** extra arguments / environment for tests */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
}

export class EngineClient {
  private child: ChildProcess | null = null;
  private ready: Promise<void> | null = null;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  /** how many engine processes were started (tests use it to see restarts) */
  starts = 0;

  /** the engine process's id while one runs */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  constructor(private readonly o: EngineClientOptions) {}

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    this.starts++;
    const child = fork(this.o.workerPath, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: this.o.execArgv ?? [],
      env: { ...process.env, ...this.o.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    this.child = child;
    child.stderr?.on('data', (d) => this.o.onLog?.('engine', String(d).trimEnd()));
    child.stdout?.on('data', (d) => this.o.onLog?.('engine', String(d).trimEnd()));
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ScaleKVError('E_WORKER_CRASHED', 'The engine process did not start in time.'));
        child.kill('SIGKILL');
      }, this.o.startTimeoutMs ?? 30000);
      child.on('message', (m: EngineEvent) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else this.onEvent(m);
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new ScaleKVError('E_WORKER_CRASHED', `The engine process could not start: ${e.message}`));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.child !== child) return;
        this.child = null;
        this.ready = null;
        const why = signal === 'SIGKILL' ? 'was killed (out of memory, or stopped after a cancel)' : signal ? `stopped by ${signal}` : `exited with code ${code}`;
        const err = new ScaleKVError('E_WORKER_CRASHED', `The engine process ${why}. Your files are unchanged; the next request starts a new engine.`);
        reject(err);
        for (const [id, p] of this.pending) {
          p.reject(err);
          this.pending.delete(id);
        }
        for (const t of this.stopping.values()) clearTimeout(t);
        this.stopping.clear();
      });
    });
    return this.ready;
  }

  private onEvent(m: EngineEvent): void {
    if (m.type === 'log') {
      this.o.onLog?.(m.level, m.message);
      return;
    }
    if (m.type === 'ready') return;
    if (m.type !== 'progress' && this.stopping.has(m.id)) {
      // a cancelled request has wound down by itself: no need to stop the process
      clearTimeout(this.stopping.get(m.id));
      this.stopping.delete(m.id);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') p.onProgress?.(m.progress);
    else {
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.result);
      else p.reject(new ScaleKVError(m.error.code, m.error.message, m.error.detail));
    }
  }

  /** calls one engine method in the engine process; the reply is that method's (see ./protocol.ts) */
  async request<M extends EngineMethod>(method: M, request: EngineRequestOf[M], opts: RequestOptions = {}): Promise<EngineReplyOf[M]> {
    if (opts.token?.isCancellationRequested) throw new ScaleKVError('E_CANCELLED', 'The run was cancelled.');
    await this.start();
    // the user may have cancelled while the engine process was starting
    if (opts.token?.isCancellationRequested) throw new ScaleKVError('E_CANCELLED', 'The run was cancelled.');
    const id = this.nextId++;
    const child = this.child!;
    return new Promise<EngineReplyOf[M]>((resolve, reject) => {
      // the process answers id with the reply of the method it was called with (its handlers are typed per method)
      const entry: Pending = { resolve: (r) => resolve(r as EngineReplyOf[M]), reject, onProgress: opts.onProgress };
      this.pending.set(id, entry);
      opts.token?.onCancellationRequested(() => {
        if (!this.pending.has(id)) return;
        if (child.connected) child.send({ type: 'cancel', id } satisfies EngineRequest);
        // answer the user at once; if the engine does not stop by itself in time, stop the process
        this.pending.delete(id);
        reject(new ScaleKVError('E_CANCELLED', 'The run was cancelled.'));
        this.stopping.set(
          id,
          setTimeout(() => {
            this.stopping.delete(id);
            if (this.child === child) child.kill('SIGKILL');
          }, this.o.cancelGraceMs ?? 5000),
        );
      });
      const call: EngineCall<M> = { type: method, id, request };
      child.send(call);
    });
  }

  /** cancelled requests the process has not yet wound down, with the timer that will stop it */
  private stopping = new Map<number, NodeJS.Timeout>();

  get running(): number {
    return this.pending.size;
  }

  dispose(): void {
    const c = this.child;
    this.child = null;
    this.ready = null;
    for (const p of this.pending.values()) p.reject(new ScaleKVError('E_CANCELLED', 'The engine was shut down.'));
    this.pending.clear();
    if (c && c.connected) {
      c.send({ type: 'shutdown' } satisfies EngineRequest);
      setTimeout(() => c.kill('SIGKILL'), 2000).unref();
    }
  }
}
