// Shared test utilities: a seeded RNG and fixture paths (nothing here re-implements module logic).
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'scalekv');

/** mulberry32: small, seeded, reproducible */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export const SQUARE_SCHEDULE = [1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 64].map((n) => ({ h: n, w: n }));
