/**
 * The engine's loaded model, one at a time, keyed by (path, provider setting), and the provider
 * fallback: when a GPU provider cannot build or run one of the model's graphs (an operator or shape it
 * lacks, a driver fault), the model is loaded again on the next provider and the job runs again there.
 * The provider that failed stays passed over for that key, so the next request does not fail the same
 * way, and the sidebar's provider line says why. Out of memory is not a reason to fall back: the user
 * is told to shrink the run (shared/errors.ts), since the CPU would hold even less of a large one.
 */
import { isOutOfMemory, ScaleKVError } from '../shared/errors';
import type { ProviderInfo, ProviderSetting } from '../shared/types';
import type { JobContext } from './api';
import type { ProviderSkip } from './runtime';
import { GraphRunError } from './sessions';

/** what the cache needs of a loaded model */
export interface CachedModel {
  provider: ProviderInfo;
  release(): Promise<void>;
}

export type ModelLoader<M extends CachedModel> = (
  path: string | undefined,
  provider: ProviderSetting,
  ctx: JobContext,
  skip: ProviderSkip[],
) => Promise<M>;

export class ModelCache<M extends CachedModel> {
  private cached: { key: string; model: M } | null = null;
  /** per key, the providers that failed its graphs in this process */
  private readonly skips = new Map<string, ProviderSkip[]>();

  constructor(private readonly load: ModelLoader<M>) {}

  private static key(path: string | undefined, provider: string): string {
    return `${path ?? '<embedded>'}|${provider}`;
  }

  /** the model if it is the one loaded, without loading anything */
  peek(path: string | undefined, provider: string): M | undefined {
    return this.cached?.key === ModelCache.key(path, provider) ? this.cached.model : undefined;
  }

  /** the model, loaded on the first provider that builds its graphs */
  async get(path: string | undefined, provider: ProviderSetting, ctx: JobContext): Promise<M> {
    return (await this.withFallback(path, provider, ctx, async (m) => m)).result;
  }

  /**
   * Runs `job` on the model; if a GPU provider fails one of the model's graphs, runs it again on the next
   * provider. `fellBack` lists what failed on the way (empty when the first provider did it all).
   */
  async withFallback<T>(
    path: string | undefined,
    provider: ProviderSetting,
    ctx: JobContext,
    job: (m: M) => Promise<T>,
  ): Promise<{ result: T; fellBack: string[] }> {
    const key = ModelCache.key(path, provider);
    const fellBack: string[] = [];
    for (;;) {
      let used: M | undefined;
      try {
        used = await this.loaded(key, path, provider, ctx);
        return { result: await job(used), fellBack };
      } catch (e) {
        if (!fallsBack(e, ctx) || this.skips.get(key)?.some((x) => x.provider === e.provider)) throw afterFallback(e, fellBack, used);
        ctx.log?.('warn', `${e.message}; loading the model on the next provider`);
        ctx.onProgress({ stage: 'load', message: `${e.provider} failed on the ${e.graph} graph: trying the next provider`, fraction: 0 });
        fellBack.push(e.message);
        this.skips.set(key, [...(this.skips.get(key) ?? []), { provider: e.provider, why: e.message }]);
        if (this.cached?.key === key) await this.release();
      }
    }
  }

  private async loaded(key: string, path: string | undefined, provider: ProviderSetting, ctx: JobContext): Promise<M> {
    if (this.cached?.key === key) return this.cached.model;
    await this.release();
    const m = await this.load(path, provider, ctx, this.skips.get(key) ?? []);
    this.cached = { key, model: m };
    return m;
  }

  async release(): Promise<void> {
    const c = this.cached;
    this.cached = null;
    await c?.model.release();
  }
}

/** an error on the provider a job fell back to also says why the job was there (e.g. fp16 asked of the CPU) */
function afterFallback(e: unknown, fellBack: string[], used: CachedModel | undefined): unknown {
  if (!fellBack.length || !(e instanceof ScaleKVError)) return e;
  const where = used ? ` to ${used.provider.used}` : '';
  return new ScaleKVError(e.code, `${e.message} (The job had fallen back${where} because ${fellBack.join('; ')}.)`, e.detail);
}

/** a GPU provider's failure on a graph, not out of memory, in a job still wanted */
function fallsBack(e: unknown, ctx: JobContext): e is GraphRunError {
  return e instanceof GraphRunError && e.provider !== 'cpu' && !isOutOfMemory(e.reason) && !ctx.signal.aborted;
}
