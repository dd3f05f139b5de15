/**
 * Scenes (the ground truth of one image) and their captions. Coordinates are fractions of the image
 * side: (x, y) is the centre of an object's bounding box, r half its side, so a scene renders the same
 * at any resolution. The caption grammar is deliberately small and regular (README.md in this folder).
 */
import {
  COLOUR_RGB,
  COLOURS,
  POSITIONS,
  positionAt,
  positionCell,
  RELATIONS,
  SHAPE_PLURALS,
  SHAPES,
  SIZES,
  type Colour,
  type Position,
  type Relation,
  type Shape,
  type Size,
} from './vocabulary';
import type { DatasetRng } from './rng';

export interface SceneObject {
  shape: Shape;
  colour: Colour;
  size: Size;
  /** the cell of the 3x3 grid the object's centre lies in (named in single-object captions) */
  position: Position;
  x: number;
  y: number;
  r: number;
}

export type Background =
  | { kind: 'flat'; colour: Colour }
  /** two flat colours split by a horizontal line at height `at` */
  | { kind: 'horizon'; top: Colour; bottom: Colour; at: number }
  /** a vertical linear blend from top to bottom */
  | { kind: 'gradient'; top: Colour; bottom: Colour };

export type Scene =
  | { kind: 'single'; objects: [SceneObject]; background: Background }
  | { kind: 'count'; objects: SceneObject[]; background: Background }
  | { kind: 'relation'; objects: [SceneObject, SceneObject]; relation: Relation; background: Background };

/** half-extent ranges per size, as fractions of the image side */
const SIZE_RANGE: Record<Size, readonly [number, number]> = { small: [0.07, 0.09], large: [0.13, 0.16] };
/** objects keep this far from the image border, so the checker can read the background off it */
const MARGIN = 0.04;
/** RGB distance an object's colour keeps from every colour of its background (and blends between) */
const MIN_CONTRAST = 100;

const ANCHORS = [0.2, 0.5, 0.8];

function dist(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** distance from colour c to the segment between colours a and b (gradients pass through every blend) */
function distToBlend(c: readonly number[], a: readonly number[], b: readonly number[]): number {
  const d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
  const t = dd ? Math.max(0, Math.min(1, ((c[0] - a[0]) * d[0] + (c[1] - a[1]) * d[1] + (c[2] - a[2]) * d[2]) / dd)) : 0;
  return dist(c, [a[0] + t * d[0], a[1] + t * d[1], a[2] + t * d[2]]);
}

function contrasts(colour: Colour, bg: Background): boolean {
  const c = COLOUR_RGB[colour];
  if (bg.kind === 'flat') return dist(c, COLOUR_RGB[bg.colour]) >= MIN_CONTRAST;
  if (bg.kind === 'horizon') return dist(c, COLOUR_RGB[bg.top]) >= MIN_CONTRAST && dist(c, COLOUR_RGB[bg.bottom]) >= MIN_CONTRAST;
  return distToBlend(c, COLOUR_RGB[bg.top], COLOUR_RGB[bg.bottom]) >= MIN_CONTRAST;
}

export function cellOf(x: number, y: number): Position {
  const k = (v: number) => Math.min(2, Math.max(0, Math.floor(v * 3)));
  return positionAt(k(x), k(y));
}

export function sampleBackground(rng: DatasetRng, mustContrast: Colour[] = []): Background {
  for (;;) {
    const u = rng.next();
    const [a, b] = rng.shuffle([...COLOURS]);
    const bg: Background =
      u < 0.5
        ? { kind: 'flat', colour: a }
        : u < 0.75
          ? { kind: 'horizon', top: a, bottom: b, at: rng.uniform(0.35, 0.65) }
          : { kind: 'gradient', top: a, bottom: b };
    if (mustContrast.every((c) => contrasts(c, bg)) && COLOURS.some((c) => contrasts(c, bg))) return bg;
  }
}

function contrastingColour(rng: DatasetRng, bg: Background): Colour {
  const ok = COLOURS.filter((c) => contrasts(c, bg));
  return rng.pick(ok);
}

function radius(rng: DatasetRng, size: Size): number {
  return rng.uniform(...SIZE_RANGE[size]);
}

/** an object in the named cell: near the cell's anchor, never closer than MARGIN to the border */
export function placeInCell(rng: DatasetRng, shape: Shape, colour: Colour, size: Size, position: Position): SceneObject {
  const r = radius(rng, size);
  const { col, row } = positionCell(position);
  const at = (k: number) => Math.min(1 - r - MARGIN, Math.max(r + MARGIN, ANCHORS[k] + rng.uniform(-0.04, 0.04)));
  const x = at(col);
  const y = at(row);
  return { shape, colour, size, position, x, y, r };
}

function overlaps(a: { x: number; y: number; r: number }, b: { x: number; y: number; r: number }, gap: number): boolean {
  return Math.abs(a.x - b.x) < a.r + b.r + gap && Math.abs(a.y - b.y) < a.r + b.r + gap;
}

function countScene(rng: DatasetRng, bg: Background, colour: Colour): Scene {
  const n = 2 + rng.int(2);
  const shape = rng.pick(SHAPES);
  // three large objects do not always fit apart; fall back to small ones after a few tries
  for (let attempt = 0; ; attempt++) {
    const size: Size = attempt < 20 ? rng.pick(SIZES) : 'small';
    const objects: SceneObject[] = [];
    for (let tries = 0; objects.length < n && tries < 200; tries++) {
      const r = radius(rng, size);
      const x = rng.uniform(r + MARGIN, 1 - r - MARGIN);
      const y = rng.uniform(r + MARGIN, 1 - r - MARGIN);
      const o = { shape, colour, size, position: cellOf(x, y), x, y, r };
      if (!objects.some((p) => overlaps(o, p, 0.03))) objects.push(o);
    }
    if (objects.length === n) return { kind: 'count', objects, background: bg };
  }
}

function relationScene(rng: DatasetRng, bg: Background): Scene {
  const relation = rng.pick(RELATIONS);
  for (;;) {
    const a = { shape: rng.pick(SHAPES), colour: contrastingColour(rng, bg), size: rng.pick(SIZES) };
    const b = { shape: rng.pick(SHAPES), colour: contrastingColour(rng, bg), size: rng.pick(SIZES) };
    if (a.shape === b.shape && a.colour === b.colour) continue;
    const ra = radius(rng, a.size);
    const rb = radius(rng, b.size);
    const gap = ra + rb + rng.uniform(0.05, 0.12);
    const side = rng.uniform(-0.08, 0.08);
    // offsets of b from a along the relation's axis (a above b: b is lower)
    const [dx, dy] =
      relation === 'above' ? [side, gap] : relation === 'below' ? [side, -gap] : relation === 'to the left of' ? [gap, side] : [-gap, side];
    const loX = Math.max(ra + MARGIN, rb + MARGIN - dx);
    const hiX = Math.min(1 - ra - MARGIN, 1 - rb - MARGIN - dx);
    const loY = Math.max(ra + MARGIN, rb + MARGIN - dy);
    const hiY = Math.min(1 - ra - MARGIN, 1 - rb - MARGIN - dy);
    if (loX > hiX || loY > hiY) continue;
    const ax = rng.uniform(loX, hiX);
    const ay = rng.uniform(loY, hiY);
    const oa: SceneObject = { ...a, position: cellOf(ax, ay), x: ax, y: ay, r: ra };
    const ob: SceneObject = { ...b, position: cellOf(ax + dx, ay + dy), x: ax + dx, y: ay + dy, r: rb };
    return { kind: 'relation', objects: [oa, ob], relation, background: bg };
  }
}

export type TripleFilter = (colour: Colour, shape: Shape, position: Position) => boolean;

/** one training scene: 60% single objects (their triple passes `allowed`), 20% counts, 20% relations */
export function sampleScene(rng: DatasetRng, allowed: TripleFilter): Scene {
  const u = rng.next();
  const bg = sampleBackground(rng);
  if (u < 0.2) return countScene(rng, bg, contrastingColour(rng, bg));
  if (u < 0.4) return relationScene(rng, bg);
  for (;;) {
    const colour = contrastingColour(rng, bg);
    const shape = rng.pick(SHAPES);
    const position = rng.pick(POSITIONS);
    if (allowed(colour, shape, position))
      return { kind: 'single', objects: [placeInCell(rng, shape, colour, rng.pick(SIZES), position)], background: bg };
  }
}

/** the indefinite article: "an" before the one colour that starts with a vowel */
function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function backgroundPhrase(bg: Background): string {
  const first = bg.kind === 'flat' ? bg.colour : bg.top;
  const rest =
    bg.kind === 'flat'
      ? `${bg.colour} background`
      : bg.kind === 'horizon'
        ? `${bg.top} and ${bg.bottom} horizon`
        : `${bg.top} to ${bg.bottom} gradient`;
  return `${article(first)} ${rest}`;
}

const COUNT_WORD = ['', 'a', 'two', 'three'];

export function captionOf(scene: Scene): string {
  const bg = backgroundPhrase(scene.background);
  const o = scene.objects[0];
  if (scene.kind === 'single') return `a ${o.size} ${o.colour} ${o.shape} at the ${o.position} on ${bg}`;
  if (scene.kind === 'count') return `${COUNT_WORD[scene.objects.length]} ${o.size} ${o.colour} ${SHAPE_PLURALS[o.shape]} on ${bg}`;
  const b = scene.objects[1];
  return `a ${o.size} ${o.colour} ${o.shape} ${scene.relation} a ${b.size} ${b.colour} ${b.shape} on ${bg}`;
}
