/**
 * Builds releasable parts (sessions, encoders, decoders) one after another. When one fails to build, for
 * instance on a provider that lacks one graph's ops, the parts built before it are released, so a failed
 * load leaves no sessions behind for the fallback provider to compete with.
 */
interface Releasable {
  release(): Promise<void>;
}

export class PartialBuild {
  private readonly built: Releasable[] = [];

  async add<T extends Releasable>(make: () => Promise<T>): Promise<T> {
    try {
      const part = await make();
      this.built.push(part);
      return part;
    } catch (e) {
      for (const b of this.built) await b.release().catch(() => undefined);
      throw e;
    }
  }

  /** releases every part built so far (a load cancelled between parts) */
  async releaseAll(): Promise<void> {
    for (const b of this.built) await b.release();
  }
}
