/** The procedural dataset: determinism, the file format contract, the held-out rule, bad input, anti-aliasing. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { heldOutFixture } from '../../../src/cli/dataset';
import { HELD_OUT_TRIPLES, heldOutPrompts, isHeldOut } from '../../../src/dataset/heldout';
import { renderScene } from '../../../src/dataset/raster';
import { captionOf, type Scene } from '../../../src/dataset/scene';
import { sceneAt } from '../../../src/dataset/sceneAt';
import { COLOURS, POSITIONS, SHAPES, VOCABULARY, type Shape } from '../../../src/dataset/vocabulary';
import { writeDataset } from '../../../src/dataset/writer';
import { type ScaleKVError } from '../../../src/shared/errors';
import { tempDir } from '../engine/helpers';

test('a dataset is a pure function of its seed; worker threads write the same bytes as one thread', async () => {
  const root = tempDir('dataset');
  const one = await writeDataset({ out: join(root, 'one'), count: 10, size: 48, seed: 7, split: 'train', workers: 1 });
  const two = await writeDataset({ out: join(root, 'two'), count: 10, size: 48, seed: 7, split: 'train', workers: 3 });
  const other = await writeDataset({ out: join(root, 'other'), count: 10, size: 48, seed: 8, split: 'train', workers: 1 });
  const bytes = (d: string) => readFileSync(join(d, 'images.u8'));
  assert.deepEqual(bytes(one.dir), bytes(two.dir));
  assert.equal(readFileSync(join(one.dir, 'meta.jsonl'), 'utf8'), readFileSync(join(two.dir, 'meta.jsonl'), 'utf8'));
  assert.notDeepEqual(bytes(one.dir), bytes(other.dir));
});

test('the folder holds images.u8 (N x S x S x 3 HWC, no header), meta.jsonl and dataset.json, and nothing partial', async () => {
  const root = tempDir('dataset');
  const { dir } = await writeDataset({ out: join(root, 'ds'), count: 6, size: 32, seed: 3, split: 'heldout', workers: 2 });
  assert.deepEqual(readdirSync(root), ['ds']);
  assert.deepEqual(readdirSync(dir).sort(), ['dataset.json', 'images.u8', 'meta.jsonl']);
  assert.equal(statSync(join(dir, 'images.u8')).size, 6 * 32 * 32 * 3);
  const info = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8'));
  assert.deepEqual(info, { version: 1, count: 6, size: 32, seed: 3, split: 'heldout', vocabulary: [...VOCABULARY] });
  const meta = readFileSync(join(dir, 'meta.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(meta.length, 6);
  const images = readFileSync(join(dir, 'images.u8'));
  meta.forEach((m, i) => {
    assert.deepEqual(m.scene, sceneAt(3, i, 'heldout'));
    assert.equal(m.caption, captionOf(m.scene));
    // image i is the render of scene i, in HWC order at offset i * S * S * 3
    assert.deepEqual(new Uint8Array(images.subarray(i * 3072, (i + 1) * 3072)), renderScene(m.scene, 32));
  });
});

test('HWC layout: pixel (x, y) of a rendered image sits at 3 * (y * S + x)', () => {
  const scene: Scene = {
    kind: 'single',
    objects: [{ shape: 'square', colour: 'red', size: 'large', position: 'top right', x: 0.75, y: 0.25, r: 0.2 }],
    background: { kind: 'horizon', top: 'blue', bottom: 'green', at: 0.5 },
  };
  const img = renderScene(scene, 40);
  const at = (x: number, y: number) => [...img.subarray(3 * (y * 40 + x), 3 * (y * 40 + x) + 3)];
  assert.deepEqual(at(30, 10), [220, 30, 30]); // inside the square, top right
  assert.deepEqual(at(5, 5), [40, 80, 220]); // sky
  assert.deepEqual(at(5, 35), [40, 170, 60]); // ground
});

test('training captions never name a held-out triple; the held-out split names only held-out triples', () => {
  assert.equal(HELD_OUT_TRIPLES.length, 50);
  let singles = 0;
  for (let i = 0; i < 4000; i++) {
    const s = sceneAt(1, i, 'train');
    if (s.kind !== 'single') continue;
    singles++;
    const o = s.objects[0];
    assert.ok(!isHeldOut(o.colour, o.shape, o.position), captionOf(s));
  }
  assert.ok(singles > 2000);
  for (let i = 0; i < 200; i++) {
    const s = sceneAt(2, i, 'heldout');
    const o = s.objects[0];
    assert.ok(s.kind === 'single' && isHeldOut(o.colour, o.shape, o.position));
  }
  // every pair of the held-out triples still appears in training with other third members
  const pairs = new Set<string>();
  for (const t of HELD_OUT_TRIPLES) {
    for (const k of [`${t.colour}/${t.shape}`, `${t.colour}@${t.position}`, `${t.shape}@${t.position}`]) {
      assert.ok(!pairs.has(k), `pair ${k} held out twice`);
      pairs.add(k);
    }
  }
});

test('the held-out fixture is what the code generates (regenerate with: node dist/cli.js heldout)', () => {
  const fixture = JSON.parse(readFileSync(join(__dirname, '../../../../test/fixtures/dataset/heldout.json'), 'utf8'));
  assert.deepEqual(fixture, JSON.parse(JSON.stringify(heldOutFixture())));
  const prompts = heldOutPrompts();
  assert.equal(new Set(prompts.map((p) => p.prompt)).size, 50);
  for (const p of prompts) assert.equal(p.prompt, captionOf(p.scene));
});

test('every caption word is in the exported vocabulary, and the scenes cover every shape, colour and position', () => {
  const seen = { shape: new Set<string>(), colour: new Set<string>(), position: new Set<string>(), kind: new Set<string>() };
  for (let i = 0; i < 2000; i++) {
    const s = sceneAt(9, i, 'train');
    for (const w of captionOf(s).split(' ')) assert.ok(VOCABULARY.includes(w), `'${w}' of '${captionOf(s)}'`);
    seen.kind.add(s.kind);
    for (const o of s.objects) {
      seen.shape.add(o.shape);
      seen.colour.add(o.colour);
      if (s.kind === 'single') seen.position.add(o.position);
    }
  }
  assert.equal(seen.shape.size, SHAPES.length);
  assert.equal(seen.colour.size, COLOURS.length);
  assert.equal(seen.position.size, POSITIONS.length);
  assert.equal(seen.kind.size, 3);
});

test('bad input: a clear E_INVALID_REQUEST before anything is written', async () => {
  const root = tempDir('dataset');
  const base = { out: join(root, 'x'), count: 2, size: 32, seed: 0, split: 'train' as const };
  for (const [over, re] of [
    [{ count: 0 }, /--count/],
    [{ count: 1.5 }, /--count/],
    [{ size: 4 }, /--size/],
    [{ size: 100000 }, /--size/],
    [{ seed: -1 }, /--seed/],
    [{ split: 'test' }, /--split/],
    [{ workers: 0 }, /--workers/],
  ] as const) {
    await assert.rejects(
      writeDataset({ ...base, ...over } as never),
      (e: ScaleKVError) => e.code === 'E_INVALID_REQUEST' && re.test(e.message),
    );
  }
  mkdirSync(join(root, 'busy'));
  writeFileSync(join(root, 'busy', 'notes.txt'), 'mine');
  await assert.rejects(
    writeDataset({ ...base, out: join(root, 'busy') }),
    (e: ScaleKVError) => e.code === 'E_INVALID_REQUEST' && /not a dataset folder/.test(e.message),
  );
  assert.equal(readFileSync(join(root, 'busy', 'notes.txt'), 'utf8'), 'mine');
  assert.ok(!existsSync(join(root, 'x')));
  assert.deepEqual(readdirSync(root), ['busy']);
});

/** independent reference: a 16 x 16 supersampled inside test of each shape, written from the shapes' definitions */
function inside(shape: Shape, x: number, y: number): boolean {
  const ax = Math.abs(x);
  const ay = Math.abs(y);
  switch (shape) {
    case 'circle':
      return x * x + y * y <= 1;
    case 'ring':
      return x * x + y * y <= 1 && x * x + y * y >= 0.36;
    case 'square':
      return ax <= 1 && ay <= 1;
    case 'diamond':
      return ax + ay <= 1;
    case 'cross':
      return (ax <= 1 && ay <= 1 / 3) || (ax <= 1 / 3 && ay <= 1);
    case 'triangle':
      // apex (0, -1), base y = 1 from x = -1 to 1
      return y <= 1 && ax <= (y + 1) / 2;
    case 'star': {
      // a point is inside a 5-pointed star iff it is inside the inner pentagon or one of the five point triangles
      const pts: [number, number][] = [];
      for (let k = 0; k < 10; k++) {
        const a = -Math.PI / 2 + (k * Math.PI) / 5;
        const rad = k % 2 ? 0.45 : 1;
        pts.push([rad * Math.cos(a), rad * Math.sin(a)]);
      }
      // fit the outline's bounding box to [-1, 1] on its long side, centred, as the dataset draws it
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => p[1]);
      const half = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) / 2;
      const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
      const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
      const p = pts.map(([u, v]) => [(u - cx) / half, (v - cy) / half]);
      const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
      const inTri = (a: number[], b: number[], c: number[]) => {
        const d1 = cross(a, b, [x, y]);
        const d2 = cross(b, c, [x, y]);
        const d3 = cross(c, a, [x, y]);
        return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
      };
      const inner = [1, 3, 5, 7, 9].map((i) => p[i]);
      const inPentagon = inner.every((v, i) => cross(v, inner[(i + 1) % 5], [x, y]) >= 0);
      return inPentagon || [0, 2, 4, 6, 8].some((i) => inTri(p[i], p[(i + 1) % 10], p[(i + 9) % 10]));
    }
  }
}

test('anti-aliased coverage matches a 16x16 supersampled reference within 0.06 per edge pixel on average', () => {
  const S = 64;
  for (const shape of SHAPES) {
    const R = 0.37;
    const scene: Scene = {
      kind: 'single',
      objects: [{ shape, colour: 'white', size: 'large', position: 'centre', x: 0.5, y: 0.5, r: R }],
      background: { kind: 'flat', colour: 'black' },
    };
    const img = renderScene(scene, S);
    let errSum = 0;
    let edge = 0;
    let area = 0;
    let refArea = 0;
    for (let py = 0; py < S; py++) {
      for (let px = 0; px < S; px++) {
        let n = 0;
        for (let sy = 0; sy < 16; sy++) {
          for (let sx = 0; sx < 16; sx++) {
            const x = (px + (sx + 0.5) / 16 - S / 2) / (R * S);
            const y = (py + (sy + 0.5) / 16 - S / 2) / (R * S);
            if (inside(shape, x, y)) n++;
          }
        }
        const ref = n / 256;
        const got = (img[3 * (py * S + px)] - 20) / (245 - 20);
        area += got;
        refArea += ref;
        if (ref > 0 && ref < 1) {
          edge++;
          errSum += Math.abs(got - ref);
        } else assert.ok(Math.abs(got - ref) < 0.35, `${shape} at (${px}, ${py}): ${got} vs ${ref}`);
      }
    }
    assert.ok(errSum / edge < 0.06, `${shape}: mean edge error ${errSum / edge}`);
    assert.ok(Math.abs(area - refArea) / refArea < 0.02, `${shape}: area ${area} vs ${refArea}`);
  }
});
