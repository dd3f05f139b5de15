/**
 * Does an image show its prompt? Finds the foreground objects (segment.ts), names each one's colour
 * (the nearest of the dataset's colours to its median pixel), its cell of the 3x3 grid (bounding-box
 * centre) and its shape class (shapeClass.ts), and compares them with the prompt.
 *
 * Single objects: colour, named position and shape of the largest plausible object. Two objects with
 * a relation: each must be found by its colour, have its shape, and the pair must stand in the
 * relation ("position" then means the relation holds). Counts: the objects of the named colour must
 * number as many as asked ("position" means the count is right). A plausible object is one
 * coherent colour covering between 0.1% and 30% of the image: static and noise are not objects.
 */
import { cellOf } from '../dataset/scene';
import { COLOUR_RGB, COLOURS, type Colour, type Position, type Shape } from '../dataset/vocabulary';
import type { RgbImage } from './image';
import { parsePrompt, type Expected } from './prompt';
import { backgroundRows, components, foregroundMask, type Component } from './segment';
import { classifyShape, shapeFeatures } from './shapeClass';

export interface FoundObject {
  colour: Colour;
  rgb: [number, number, number];
  position: Position;
  shape: Shape;
  area: number;
  /** bounding-box centre as fractions of width and height */
  cx: number;
  cy: number;
}

export interface CheckResult {
  prompt: string;
  expected: Expected;
  /** the plausible objects, largest first (at most 8) */
  found: FoundObject[];
  colour: boolean;
  position: boolean;
  shape: boolean;
}

const MIN_AREA = 0.001;
const MAX_AREA = 0.3;
/** a plausible object has at least this share of its pixels within COHERENCE_DISTANCE of its median colour */
const MIN_COHERENCE = 0.6;
const COHERENCE_DISTANCE = 60;

function medianColour(img: RgbImage, c: Component): [number, number, number] {
  const out: number[] = [];
  for (let ch = 0; ch < 3; ch++) {
    const hist = new Uint32Array(256);
    for (const p of c.pixels) hist[img.data[3 * p + ch]]++;
    let acc = 0;
    let v = 0;
    while (v < 255 && (acc += hist[v]) * 2 < c.area) v++;
    out.push(v);
  }
  return out as [number, number, number];
}

function coherence(img: RgbImage, c: Component, rgb: number[]): number {
  const d2 = COHERENCE_DISTANCE ** 2;
  let n = 0;
  for (const p of c.pixels) {
    const dr = img.data[3 * p] - rgb[0];
    const dg = img.data[3 * p + 1] - rgb[1];
    const db = img.data[3 * p + 2] - rgb[2];
    if (dr * dr + dg * dg + db * db <= d2) n++;
  }
  return n / c.area;
}

function nearestColour(rgb: readonly number[]): Colour {
  let best: Colour = COLOURS[0];
  let bd = Infinity;
  for (const name of COLOURS) {
    const c = COLOUR_RGB[name];
    const d = (c[0] - rgb[0]) ** 2 + (c[1] - rgb[1]) ** 2 + (c[2] - rgb[2]) ** 2;
    if (d < bd) {
      bd = d;
      best = name;
    }
  }
  return best;
}

/** the plausible objects of an image, largest first */
function findObjects(img: RgbImage, limit = 8): FoundObject[] {
  const { width: W, height: H } = img;
  const total = W * H;
  const found: FoundObject[] = [];
  for (const c of components(foregroundMask(img, backgroundRows(img)), W, H)) {
    if (c.area < MIN_AREA * total || found.length >= limit) break;
    if (c.area > MAX_AREA * total) continue;
    const rgb = medianColour(img, c);
    if (coherence(img, c, rgb) < MIN_COHERENCE) continue;
    const cx = (c.x0 + c.x1 + 1) / 2 / W;
    const cy = (c.y0 + c.y1 + 1) / 2 / H;
    found.push({
      colour: nearestColour(rgb),
      rgb,
      position: cellOf(cx, cy),
      shape: classifyShape(shapeFeatures(c, W)).shape,
      area: c.area / total,
      cx,
      cy,
    });
  }
  return found;
}

function relationHolds(rel: string, a: FoundObject, b: FoundObject): boolean {
  const dx = b.cx - a.cx;
  const dy = b.cy - a.cy;
  if (rel === 'above') return dy > Math.abs(dx);
  if (rel === 'below') return -dy > Math.abs(dx);
  if (rel === 'to the left of') return dx > Math.abs(dy);
  return -dx > Math.abs(dy);
}

export function checkImage(img: RgbImage, prompt: string, expected: Expected = parsePrompt(prompt)): CheckResult {
  const found = findObjects(img);
  const base = { prompt, expected, found };
  const [want] = expected.objects;
  if (expected.objects.length >= 2 && expected.relation) {
    const [wa, wb] = expected.objects;
    const a = found.find((o) => o.colour === wa.colour && o.shape === wa.shape) ?? found.find((o) => o.colour === wa.colour);
    const b =
      found.find((o) => o !== a && o.colour === wb.colour && o.shape === wb.shape) ?? found.find((o) => o !== a && o.colour === wb.colour);
    const colour = !!a && !!b;
    return {
      ...base,
      colour,
      position: colour && relationHolds(expected.relation, a, b),
      shape: colour && a.shape === wa.shape && b.shape === wb.shape,
    };
  }
  if (want.count > 1) {
    const same = found.filter((o) => o.colour === want.colour);
    const big = same.filter((o) => o.area >= 0.25 * (same[0]?.area ?? 0));
    return {
      ...base,
      colour: same.length > 0,
      position: big.length === want.count,
      shape: big.length > 0 && big.every((o) => o.shape === want.shape),
    };
  }
  const o = found[0];
  if (!o) return { ...base, colour: false, position: false, shape: false };
  return {
    ...base,
    colour: o.colour === want.colour,
    position: !expected.position || o.position === expected.position,
    shape: o.shape === want.shape,
  };
}
