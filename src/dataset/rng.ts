/**
 * The dataset's own seeded generator (splitmix32 seeding + xorshift128). Kept apart from the
 * engine's sampler on purpose: a dataset seed is a contract with the training code, so this stream
 * must not change when the engine's sampling does.
 */
export class DatasetRng {
  private s = new Uint32Array(4);

  /** independent streams per (seed, index, stream): image i of a dataset never depends on image i-1 */
  constructor(seed: number, index = 0, stream = 0) {
    let x = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca77) ^ Math.imul(stream + 1, 0xc2b2ae3d)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0 || 1;
    }
  }

  /** uniform in [0, 1) */
  next(): number {
    const s = this.s;
    let t = s[3];
    const u = s[0];
    s[3] = s[2];
    s[2] = s[1];
    s[1] = u;
    t ^= t << 11;
    t ^= t >>> 8;
    s[0] = (t ^ u ^ (u >>> 19)) >>> 0;
    return s[0] / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
