/**
 * The extension host's handle on the engine process: typed requests with progress and cancellation.
 * A crash, an out-of-memory kill or a hang of the engine rejects the requests it had started with a
 * clear error and the next request starts a fresh process; the extension host itself never waits on
 * it. A request the engine had not yet accepted when it died (e.g. one sent just after an idle engine
 * was killed) goes to a fresh process once instead of failing.
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
  /** the call as sent (again, under the same id, if a dying engine never accepted it) */
  call: EngineCall;
  /** the process it was sent to */
  child: ChildProcess;
  /** the engine said it started it */
  accepted: boolean;
  /** already sent again after an engine died */
  resent: boolean;
}

export interface RequestOptions {
  onProgress?: (p: Progress) => void;
  token?: CancelToken;
  /** stops the request with E_TIMEOUT after this long (describeModel has a default, see describeTimeoutMs) */
  timeoutMs?: number;
}

export interface EngineClientOptions {
  /** path of the built worker (dist/worker.js) */
  workerPath: string;
  /** how long a cancelled request may take to stop before the process is killed (ms) */
  cancelGraceMs?: number;
  /** how long the process may take to say it is ready (ms) */
  startTimeoutMs?: number;
  /**
   * how long describing a model (Select Model, the sidebar) may take before it is stopped like a
   * cancelled run (ms; default 10 minutes: building an 8B model's sessions on a CPU takes minutes)
   */
  describeTimeoutMs?: number;
  onLog?(level: string, message: string): void;
  /** extra arguments for tests */
  execArgv?: string[];
  /** extra environment, read at each start (the CUDA provider's folder once installed) */
  env?: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv);
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
      env: { ...process.env, ...(typeof this.o.env === 'function' ? this.o.env() : this.o.env), ELECTRON_RUN_AS_NODE: '1' },
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
        const why =
          signal === 'SIGKILL'
            ? 'was killed (out of memory, or stopped after a cancel)'
            : signal
              ? `stopped by ${signal}`
              : `exited with code ${code}`;
        const err = new ScaleKVError(
          'E_WORKER_CRASHED',
          `The engine process ${why}. Your files are unchanged; the next request starts a new engine.`,
        );
        reject(err);
        for (const t of this.stopping.values()) clearTimeout(t);
        this.stopping.clear();
        this.afterDeath(child, err);
      });
    });
    return this.ready;
  }

  /** requests a dead engine never started go to a fresh one, once */
  private async resend(ids: number[]): Promise<void> {
    try {
      await this.start();
    } catch (e) {
      for (const id of ids) {
        this.pending.get(id)?.reject(e as ScaleKVError);
        this.pending.delete(id);
      }
      return;
    }
    for (const id of ids) {
      const p = this.pending.get(id);
      if (!p) continue; // cancelled meanwhile
      p.resent = true;
      this.send(p, id);
    }
  }

  private send(p: Pending, id: number): void {
    const child = this.child!;
    p.child = child;
    p.accepted = false;
    // a send into a channel that just closed fails here; the exit that follows resends or rejects it
    child.send(p.call satisfies EngineRequest, (e) => e && this.o.onLog?.('warn', `engine request ${id} not delivered: ${e.message}`));
  }

  private onEvent(m: EngineEvent): void {
    if (m.type === 'log') {
      this.o.onLog?.(m.level, m.message);
      return;
    }
    if (m.type === 'ready') return;
    if (m.type === 'accepted') {
      const p = this.pending.get(m.id);
      if (p) p.accepted = true;
      return;
    }
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
    // an engine whose channel has closed (killed while idle, its exit not yet reported) is not reused
    if (this.child && !this.child.connected) this.forget(this.child);
    await this.start();
    // the user may have cancelled while the engine process was starting
    if (opts.token?.isCancellationRequested) throw new ScaleKVError('E_CANCELLED', 'The run was cancelled.');
    const id = this.nextId++;
    return new Promise<EngineReplyOf[M]>((resolve, reject) => {
      let limit: NodeJS.Timeout | undefined;
      const settle =
        <T>(f: (x: T) => void) =>
        (x: T) => {
          clearTimeout(limit);
          f(x);
        };
      const entry: Pending = {
        // the process answers id with the reply of the method it was called with (its handlers are typed per method)
        resolve: settle((r) => resolve(r as EngineReplyOf[M])),
        reject: settle(reject),
        onProgress: opts.onProgress,
        // EngineCall<M> for a generic M is one member of the union, which the compiler cannot see
        call: { type: method, id, request } satisfies EngineCall<M> as EngineCall,
        child: this.child!,
        accepted: false,
        resent: false,
      };
      this.pending.set(id, entry);
      const stop = (err: ScaleKVError) => {
        if (!this.pending.has(id)) return;
        const child = entry.child;
        if (child.connected) child.send({ type: 'cancel', id } satisfies EngineRequest);
        // answer the user at once; if the engine does not stop by itself in time, stop the process
        this.pending.delete(id);
        entry.reject(err);
        this.stopping.set(
          id,
          setTimeout(() => {
            this.stopping.delete(id);
            if (this.child === child) child.kill('SIGKILL');
          }, this.o.cancelGraceMs ?? 5000),
        );
      };
      opts.token?.onCancellationRequested(() => stop(new ScaleKVError('E_CANCELLED', 'The run was cancelled.')));
      const ms = opts.timeoutMs ?? (method === 'describeModel' ? (this.o.describeTimeoutMs ?? 600_000) : undefined);
      if (ms !== undefined) {
        const what = method === 'describeModel' ? 'Reading the model' : `The ${method} request`;
        const took = ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
        const why = 'A file in the model folder may be damaged, or on a slow or hung drive.';
        limit = setTimeout(() => stop(new ScaleKVError('E_TIMEOUT', `${what} took longer than ${took} and was stopped. ${why}`)), ms);
      }
      this.send(entry, id);
    });
  }

  /** stops using a process whose channel is gone: its exit handler then finds it is no longer current */
  private forget(child: ChildProcess): void {
    this.child = null;
    this.ready = null;
    child.kill('SIGKILL');
    const err = new ScaleKVError(
      'E_WORKER_CRASHED',
      'The engine process stopped. Your files are unchanged; the next request starts a new one.',
    );
    this.afterDeath(child, err);
  }

  /** a dead engine's requests: those it had started fail with err, the others go to a fresh engine */
  private afterDeath(child: ChildProcess, err: ScaleKVError): void {
    const again: number[] = [];
    for (const [id, p] of this.pending) {
      if (p.child !== child) continue;
      if (!p.accepted && !p.resent) again.push(id);
      else {
        p.reject(err);
        this.pending.delete(id);
      }
    }
    if (again.length) void this.resend(again);
  }

  /** cancelled requests the process has not yet wound down, with the timer that will stop it */
  private stopping = new Map<number, NodeJS.Timeout>();

  get running(): number {
    return this.pending.size;
  }

  /** stops an idle engine so that the next request starts one with the current environment */
  restartWhenIdle(): boolean {
    if (this.pending.size > 0) return false;
    this.dispose();
    return true;
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
