/**
 * The held-out set: colour x shape x position triples that no training caption ever names, and the
 * 50 evaluation prompts built from them. Both are fixed (a constant seed), so the training split, the
 * held-out split and test/fixtures/dataset/heldout.json always agree.
 */
import { DatasetRng } from './rng';
import { captionOf, placeInCell, sampleBackground, type Scene } from './scene';
import { COLOURS, POSITIONS, SHAPES, SIZES, type Colour, type Position, type Shape } from './vocabulary';

export interface Triple {
  colour: Colour;
  shape: Shape;
  position: Position;
}

const HELD_OUT_COUNT = 50;
const HELD_OUT_SEED = 11;

/**
 * The first 50 triples of a fixed shuffle such that no colour-shape, colour-position or
 * shape-position pair is held out twice (so the model sees every pair in training in most of its
 * completions), and no colour, shape or position is held out more than its even share.
 */
function chooseHeldOut(): Triple[] {
  const rng = new DatasetRng(HELD_OUT_SEED, 0, 1);
  const all: Triple[] = [];
  for (const colour of COLOURS) for (const shape of SHAPES) for (const position of POSITIONS) all.push({ colour, shape, position });
  rng.shuffle(all);
  const pairs = new Set<string>();
  const uses = new Map<string, number>();
  const cap = (k: string, n: number) => (uses.get(k) ?? 0) < Math.ceil(HELD_OUT_COUNT / n);
  const out: Triple[] = [];
  for (const t of all) {
    if (out.length === HELD_OUT_COUNT) break;
    const keys = [`cs:${t.colour}/${t.shape}`, `cp:${t.colour}/${t.position}`, `sp:${t.shape}/${t.position}`];
    if (keys.some((k) => pairs.has(k))) continue;
    if (!cap(`c:${t.colour}`, COLOURS.length) || !cap(`s:${t.shape}`, SHAPES.length) || !cap(`p:${t.position}`, POSITIONS.length)) continue;
    keys.forEach((k) => pairs.add(k));
    for (const k of [`c:${t.colour}`, `s:${t.shape}`, `p:${t.position}`]) uses.set(k, (uses.get(k) ?? 0) + 1);
    out.push(t);
  }
  // a change to the vocabulary that made the constraints unsatisfiable must not pass silently
  if (out.length !== HELD_OUT_COUNT) throw new Error(`held-out selection found ${out.length} of ${HELD_OUT_COUNT} triples`);
  return out;
}

export const HELD_OUT_TRIPLES: readonly Triple[] = chooseHeldOut();
const heldOutKeys = new Set(HELD_OUT_TRIPLES.map((t) => `${t.colour}/${t.shape}/${t.position}`));

export function isHeldOut(colour: Colour, shape: Shape, position: Position): boolean {
  return heldOutKeys.has(`${colour}/${shape}/${position}`);
}

/** a single-object scene of the given held-out triple, with a random size and a contrasting background */
export function heldOutScene(rng: DatasetRng, t: Triple): Scene {
  const background = sampleBackground(rng, [t.colour]);
  return { kind: 'single', objects: [placeInCell(rng, t.shape, t.colour, rng.pick(SIZES), t.position)], background };
}

export interface HeldOutPrompt {
  prompt: string;
  scene: Scene;
}

/** the evaluation list: one prompt per held-out triple, in a fixed order */
export function heldOutPrompts(): HeldOutPrompt[] {
  return HELD_OUT_TRIPLES.map((t, i) => {
    const scene = heldOutScene(new DatasetRng(HELD_OUT_SEED, i, 2), t);
    return { prompt: captionOf(scene), scene };
  });
}
