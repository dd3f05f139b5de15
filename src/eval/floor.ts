/**
 * The CI floor of the prompt check: the share of the first CI_PROMPTS held-out prompts whose image must
 * match colour and position at 0.25M. A model folder may set its own (manifest.json
 * `promptCheckFloor`); the random tiny model has no floor to meet, and must fall below the default one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INFINITY_TINY } from '../model/config';

/** 12, not 4: the default model's floor then has room for one prompt's luck (it meets 4 of 12, the floor asks 3) */
export const CI_PROMPTS = 12;
export const CI_RESOLUTION = '0.25M';
export const DEFAULT_FLOOR = 0.5;

function manifest(dir: string): { name?: string; promptCheckFloor?: unknown } {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { name?: string; promptCheckFloor?: unknown };
  } catch {
    return {};
  }
}

export function promptCheckFloor(modelDir: string): number {
  const f = manifest(modelDir).promptCheckFloor;
  return typeof f === 'number' && f >= 0 && f <= 1 ? f : DEFAULT_FLOOR;
}

/** the random-weight model `make-tiny` writes: its pictures are static by construction */
export function isRandomTinyModel(modelDir: string): boolean {
  return manifest(modelDir).name === INFINITY_TINY.name;
}
