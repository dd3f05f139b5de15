/**
 * Scene number `index` of a dataset: a pure function of (seed, index, split), so any worker can draw
 * any image and the dataset does not depend on how the work was split.
 */
import { HELD_OUT_TRIPLES, heldOutScene, isHeldOut } from './heldout';
import { DatasetRng } from './rng';
import { sampleScene, type Scene } from './scene';

export const SPLITS = ['train', 'heldout'] as const;
export type Split = (typeof SPLITS)[number];

/** coordinates rounded to 1e-6 before rendering, so meta.jsonl holds exactly what was drawn */
function rounded(scene: Scene): Scene {
  const q = (v: number) => Math.round(v * 1e6) / 1e6;
  const objects = scene.objects.map((o) => ({ ...o, x: q(o.x), y: q(o.y), r: q(o.r) }));
  const background = scene.background.kind === 'horizon' ? { ...scene.background, at: q(scene.background.at) } : scene.background;
  return { ...scene, objects, background } as Scene;
}

export function sceneAt(seed: number, index: number, split: Split): Scene {
  if (split === 'train') return rounded(sampleScene(new DatasetRng(seed, index, 0), (c, s, p) => !isHeldOut(c, s, p)));
  // held-out images cycle through the triples so every one is equally represented
  return rounded(heldOutScene(new DatasetRng(seed, index, 3), HELD_OUT_TRIPLES[index % HELD_OUT_TRIPLES.length]));
}
