/**
 * The closed world of the procedural dataset: shapes, named colours, sizes, positions, relations,
 * background kinds, and every word a caption can contain. A trained model's tokenizer should hold
 * each word of VOCABULARY as one whole piece ('▁' + word), so captions never fall into sub-word pieces.
 */

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'ring', 'diamond', 'cross'] as const;
export type Shape = (typeof SHAPES)[number];

export const SHAPE_PLURALS: Record<Shape, string> = {
  circle: 'circles',
  square: 'squares',
  triangle: 'triangles',
  star: 'stars',
  ring: 'rings',
  diamond: 'diamonds',
  cross: 'crosses',
};

export const COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'white', 'black'] as const;
export type Colour = (typeof COLOURS)[number];

/** sRGB values the generator paints with; the checker names a colour by the nearest of these */
export const COLOUR_RGB: Record<Colour, readonly [number, number, number]> = {
  red: [220, 30, 30],
  orange: [245, 140, 20],
  yellow: [245, 220, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  purple: [140, 50, 190],
  pink: [245, 130, 190],
  brown: [130, 80, 40],
  white: [245, 245, 245],
  black: [20, 20, 20],
};

export const SIZES = ['small', 'large'] as const;
export type Size = (typeof SIZES)[number];

/** the nine positions: a 3x3 grid of the image, named as the caption says them after "at the" */
export const POSITIONS = ['top left', 'top', 'top right', 'left', 'centre', 'right', 'bottom left', 'bottom', 'bottom right'] as const;
export type Position = (typeof POSITIONS)[number];

/** column (0 left .. 2 right) and row (0 top .. 2 bottom) of each position */
export function positionCell(p: Position): { col: number; row: number } {
  const i = POSITIONS.indexOf(p);
  return { col: i % 3, row: Math.floor(i / 3) };
}

export function positionAt(col: number, row: number): Position {
  return POSITIONS[row * 3 + col];
}

export const RELATIONS = ['above', 'below', 'to the left of', 'to the right of'] as const;
export type Relation = (typeof RELATIONS)[number];

const COUNT_WORDS = ['two', 'three'] as const;

/** every word that can occur in a caption, sorted; dataset.json carries this list */
export const VOCABULARY: readonly string[] = [
  ...new Set(
    [
      'a',
      'an',
      'at',
      'the',
      'on',
      'and',
      'to',
      'of',
      'background',
      'horizon',
      'gradient',
      ...COUNT_WORDS,
      ...SHAPES,
      ...Object.values(SHAPE_PLURALS),
      ...COLOURS,
      ...SIZES,
      ...POSITIONS.flatMap((p) => p.split(' ')),
      ...RELATIONS.flatMap((r) => r.split(' ')),
    ].sort(),
  ),
];
