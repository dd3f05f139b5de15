/**
 * What a prompt asks for, read with the dataset's vocabulary: the objects (colour + shape, with an
 * optional size and count), the named position of a single object, or the relation between two.
 * Words outside the vocabulary are ignored; a prompt with no colour followed by a shape is refused.
 */
import {
  COLOURS,
  POSITIONS,
  RELATIONS,
  SHAPE_PLURALS,
  SHAPES,
  SIZES,
  type Colour,
  type Position,
  type Relation,
  type Shape,
  type Size,
} from '../dataset/vocabulary';
import { ScaleKVError } from '../shared/errors';

export interface ExpectedObject {
  colour: Colour;
  shape: Shape;
  size?: Size;
  count: number;
}

export interface Expected {
  objects: ExpectedObject[];
  position?: Position;
  relation?: Relation;
}

const PLURAL_TO_SHAPE = new Map(Object.entries(SHAPE_PLURALS).map(([s, p]) => [p, s as Shape]));
const COUNTS: Record<string, number> = { a: 1, an: 1, one: 1, two: 2, three: 3 };

export function parsePrompt(prompt: string): Expected {
  const words = prompt.toLowerCase().match(/[a-z]+/g) ?? [];
  const objects: (ExpectedObject & { start: number; end: number })[] = [];
  for (let i = 0; i + 1 < words.length; i++) {
    if (!(COLOURS as readonly string[]).includes(words[i])) continue;
    const next = words[i + 1];
    const shape = (SHAPES as readonly string[]).includes(next) ? (next as Shape) : PLURAL_TO_SHAPE.get(next);
    if (!shape) continue;
    let start = i;
    const size = (SIZES as readonly string[]).includes(words[i - 1]) ? (words[i - 1] as Size) : undefined;
    if (size) start--;
    const count = COUNTS[words[start - 1]] ?? (PLURAL_TO_SHAPE.has(next) ? 2 : 1);
    if (words[start - 1] in COUNTS) start--;
    objects.push({ colour: words[i] as Colour, shape, size, count, start, end: i + 2 });
  }
  if (!objects.length) {
    throw new ScaleKVError(
      'E_INVALID_REQUEST',
      `The prompt '${prompt}' names no object the checker knows (a colour followed by a shape, e.g. "a red circle").`,
    );
  }
  const joined = ` ${words.join(' ')} `;
  // longest position names first, so "top left" wins over "top"
  const position = [...POSITIONS].sort((a, b) => b.length - a.length).find((p) => joined.includes(` at the ${p} `));
  let relation: Relation | undefined;
  if (objects.length >= 2) {
    const between = ` ${words.slice(objects[0].end, objects[1].start).join(' ')} `;
    relation = [...RELATIONS].sort((a, b) => b.length - a.length).find((r) => between.includes(` ${r} `));
  }
  return { objects: objects.map(({ start: _s, end: _e, ...o }) => o), position, relation };
}
