/**
 * Shape class of one component from simple geometry of its bounding box: the fill ratio, the share
 * taken by enclosed holes (a ring), and how wide the filled shape is at five heights and three
 * columns (a triangle widens downwards, a diamond and a cross peak in the middle, a square is flat).
 * Each class has a prototype: the same features measured on the dataset renderer's own drawing of
 * that shape, large and centred; a component gets the nearest prototype's class.
 */
import { renderScene } from '../dataset/raster';
import type { Scene } from '../dataset/scene';
import { SHAPES, type Shape } from '../dataset/vocabulary';
import type { RgbImage } from './image';
import { backgroundRows, components, foregroundMask, type Component } from './segment';

export type ShapeFeatures = number[];

const ROWS = [0.1, 0.3, 0.5, 0.7, 0.9];
const COLS = [0.1, 0.5, 0.9];
/** feature weights: fill and holes tell most classes apart, the profiles split the rest */
const WEIGHTS = [2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0.5];

/** the component as a bounding-box mask, and the same with enclosed holes filled */
function boxMasks(c: Component, W: number): { bw: number; bh: number; solid: Uint8Array; filled: Uint8Array } {
  const bw = c.x1 - c.x0 + 1;
  const bh = c.y1 - c.y0 + 1;
  const solid = new Uint8Array(bw * bh);
  for (const p of c.pixels) {
    const x = p % W;
    solid[((p - x) / W - c.y0) * bw + (x - c.x0)] = 1;
  }
  // flood the outside from the box edges; what stays unreached and empty is a hole
  const outside = new Uint8Array(bw * bh);
  const stack: number[] = [];
  const push = (i: number) => {
    if (!solid[i] && !outside[i]) {
      outside[i] = 1;
      stack.push(i);
    }
  };
  for (let x = 0; x < bw; x++) {
    push(x);
    push((bh - 1) * bw + x);
  }
  for (let y = 0; y < bh; y++) {
    push(y * bw);
    push(y * bw + bw - 1);
  }
  while (stack.length) {
    const i = stack.pop()!;
    const x = i % bw;
    if (x > 0) push(i - 1);
    if (x < bw - 1) push(i + 1);
    if (i >= bw) push(i - bw);
    if (i < bw * (bh - 1)) push(i + bw);
  }
  const filled = new Uint8Array(bw * bh);
  for (let i = 0; i < filled.length; i++) filled[i] = outside[i] ? 0 : 1;
  return { bw, bh, solid, filled };
}

export function shapeFeatures(c: Component, W: number): ShapeFeatures {
  const { bw, bh, filled } = boxMasks(c, W);
  let filledArea = 0;
  for (const v of filled) filledArea += v;
  const box = bw * bh;
  const rowWidth = (f: number) => {
    const y = Math.min(bh - 1, Math.floor(f * bh));
    let n = 0;
    for (let x = 0; x < bw; x++) n += filled[y * bw + x];
    return n / bw;
  };
  const colHeight = (f: number) => {
    const x = Math.min(bw - 1, Math.floor(f * bw));
    let n = 0;
    for (let y = 0; y < bh; y++) n += filled[y * bw + x];
    return n / bh;
  };
  return [filledArea / box, (filledArea - c.area) / box, ...ROWS.map(rowWidth), ...COLS.map(colHeight), Math.min(2, bw / bh)];
}

function distance(a: ShapeFeatures, b: ShapeFeatures): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += WEIGHTS[i] * (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** features of each shape as the dataset draws it: large, centred, on a flat background */
function measurePrototypes(): Map<Shape, ShapeFeatures> {
  const size = 200;
  const out = new Map<Shape, ShapeFeatures>();
  for (const shape of SHAPES) {
    const scene: Scene = {
      kind: 'single',
      objects: [{ shape, colour: 'white', size: 'large', position: 'centre', x: 0.5, y: 0.5, r: 0.4 }],
      background: { kind: 'flat', colour: 'black' },
    };
    const img: RgbImage = { width: size, height: size, data: renderScene(scene, size) };
    const [c] = components(foregroundMask(img, backgroundRows(img)), size, size);
    out.set(shape, shapeFeatures(c, size));
  }
  return out;
}

let prototypes: Map<Shape, ShapeFeatures> | null = null;

function shapePrototypes(): Map<Shape, ShapeFeatures> {
  prototypes ??= measurePrototypes();
  return prototypes;
}

export function classifyShape(features: ShapeFeatures): { shape: Shape; distance: number } {
  let best: { shape: Shape; distance: number } = { shape: SHAPES[0], distance: Infinity };
  for (const [shape, proto] of shapePrototypes()) {
    const d = distance(features, proto);
    if (d < best.distance) best = { shape, distance: d };
  }
  return best;
}
