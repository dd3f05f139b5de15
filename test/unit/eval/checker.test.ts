/** The prompt checker on ground truth (generated images), on noise and static, and its prompt parser and PNG reader. */
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import test from 'node:test';
import { crc32 } from '../../../src/checkpoint/crc32';
import { renderScene } from '../../../src/dataset/raster';
import { captionOf, type Scene } from '../../../src/dataset/scene';
import { sceneAt } from '../../../src/dataset/sceneAt';
import { heldOutPrompts } from '../../../src/dataset/heldout';
import { COLOURS, POSITIONS, SHAPES } from '../../../src/dataset/vocabulary';
import { checkImage } from '../../../src/eval/checker';
import { fromChw } from '../../../src/eval/image';
import { parsePrompt } from '../../../src/eval/prompt';
import { decodePng, encodePng } from '../../../src/model/png';
import { type ScaleKVError } from '../../../src/shared/errors';
import { rng } from '../scalekv/helpers';

test('on 200 generated ground-truth images (4 seeds, 128 and 512 px) the checker reads colour, position and shape', () => {
  const tally = { n: 0, colour: 0, colourPosition: 0, shape: 0, all: 0 };
  const seen = { shape: new Set<string>(), colour: new Set<string>(), position: new Set<string>(), kind: new Set<string>() };
  for (const size of [128, 512]) {
    for (const seed of [1, 2, 3, 4]) {
      for (let i = 0; i < 25; i++) {
        const scene = sceneAt(seed, i, i % 5 === 0 ? 'heldout' : 'train');
        const r = checkImage({ width: size, height: size, data: renderScene(scene, size) }, captionOf(scene));
        tally.n++;
        tally.colour += +r.colour;
        tally.colourPosition += +(r.colour && r.position);
        tally.shape += +r.shape;
        tally.all += +(r.colour && r.position && r.shape);
        seen.kind.add(scene.kind);
        for (const o of scene.objects) {
          seen.shape.add(o.shape);
          seen.colour.add(o.colour);
          seen.position.add(o.position);
        }
      }
    }
  }
  assert.equal(tally.n, 200);
  assert.deepEqual(
    [seen.shape.size, seen.colour.size, seen.position.size, seen.kind.size],
    [SHAPES.length, COLOURS.length, POSITIONS.length, 3],
  );
  if (process.env.SCALEKV_REPORT) console.log(JSON.stringify(tally));
  assert.ok(tally.colourPosition / tally.n >= 0.95, JSON.stringify(tally));
  assert.ok(tally.shape / tally.n >= 0.9, JSON.stringify(tally));
});

test('random noise and random-colour static show no prompt', () => {
  const prompts = heldOutPrompts().map((p) => p.prompt);
  const r = rng(5);
  let matches = 0;
  let trials = 0;
  for (const size of [128, 256]) {
    for (const block of [1, 4, 16]) {
      for (let i = 0; i < 6; i++) {
        const n = Math.ceil(size / block);
        const cells = Array.from({ length: n * n }, () => [r() * 256, r() * 256, r() * 256]);
        const data = new Uint8Array(3 * size * size);
        for (let y = 0; y < size; y++)
          for (let x = 0; x < size; x++) data.set(cells[Math.floor(y / block) * n + Math.floor(x / block)], 3 * (y * size + x));
        const res = checkImage({ width: size, height: size, data }, prompts[trials % prompts.length]);
        trials++;
        matches += +(res.colour && res.position);
      }
    }
  }
  // chance of colour and position for one object is 1/90; 36 trials should not match more than once
  assert.ok(matches <= 1, `${matches} of ${trials} static images matched colour and position`);
});

test('an image without its object fails, and one with the object elsewhere fails position only', () => {
  const prompt = 'a large red circle at the top left on a blue background';
  const scene: Scene = {
    kind: 'single',
    objects: [{ shape: 'circle', colour: 'red', size: 'large', position: 'bottom right', x: 0.8, y: 0.8, r: 0.15 }],
    background: { kind: 'flat', colour: 'blue' },
  };
  const moved = checkImage({ width: 128, height: 128, data: renderScene(scene, 128) }, prompt);
  assert.deepEqual([moved.colour, moved.position, moved.shape], [true, false, true]);
  const empty = checkImage({ width: 128, height: 128, data: renderScene({ ...scene, objects: [] } as never, 128) }, prompt);
  assert.deepEqual([empty.colour, empty.position, empty.shape, empty.found.length], [false, false, false, 0]);
});

test('prompts are read with the dataset vocabulary', () => {
  assert.deepEqual(parsePrompt('a small red circle at the top left on a blue background'), {
    objects: [{ colour: 'red', shape: 'circle', size: 'small', count: 1 }],
    position: 'top left',
    relation: undefined,
  });
  assert.deepEqual(parsePrompt('three large green stars on an orange to white gradient').objects, [
    { colour: 'green', shape: 'star', size: 'large', count: 3 },
  ]);
  const rel = parsePrompt('a small pink ring to the left of a large white cross on a black background');
  assert.equal(rel.relation, 'to the left of');
  assert.deepEqual(
    rel.objects.map((o) => `${o.colour} ${o.shape}`),
    ['pink ring', 'white cross'],
  );
  assert.equal(parsePrompt('A Red Circle at the Top').position, 'top');
  assert.throws(
    () => parsePrompt('a lighthouse on a cliff at dusk'),
    (e: ScaleKVError) => e.code === 'E_INVALID_REQUEST' && /names no object/.test(e.message),
  );
});

/** an independent PNG writer that uses every filter type (the project's encoder writes filter 0 only) */
function filteredPng(rows: Uint8Array[], width: number, channels: number, colourType: number): Buffer {
  const stride = width * channels;
  const out: number[] = [];
  rows.forEach((row, y) => {
    const f = y % 5;
    out.push(f);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels] : 0;
      const b = y > 0 ? rows[y - 1][x] : 0;
      const c = x >= channels && y > 0 ? rows[y - 1][x - channels] : 0;
      const p = a + b - c;
      const pred = [
        0,
        a,
        b,
        (a + b) >> 1,
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c,
      ][f];
      out.push((row[x] - pred) & 255);
    }
  });
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr[8] = 8;
  ihdr[9] = colourType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(out))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('PNG decoder: the encoder round trip, all five row filters, RGBA and grey, and clear errors', () => {
  const r = rng(9);
  const W = 13;
  const H = 7;
  const chw = Uint8Array.from({ length: 3 * W * H }, () => Math.floor(r() * 256));
  assert.deepEqual(decodePng(encodePng(chw, W, H)), fromChw(chw, W, H));
  const rgba = Array.from({ length: H }, () => Uint8Array.from({ length: 4 * W }, () => Math.floor(r() * 256)));
  const dec = decodePng(filteredPng(rgba, W, 4, 6));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) assert.equal(dec.data[3 * (y * W + x) + c], rgba[y][4 * x + c]);
  const grey = Array.from({ length: H }, () => Uint8Array.from({ length: W }, () => Math.floor(r() * 256)));
  const g = decodePng(filteredPng(grey, W, 1, 0));
  assert.deepEqual([g.data[3 * (2 * W + 5)], g.data[3 * (2 * W + 5) + 2]], [grey[2][5], grey[2][5]]);
  const png = encodePng(chw, W, H);
  const bad = (b: Uint8Array, re: RegExp) =>
    assert.throws(
      () => decodePng(b, 'x.png'),
      (e: ScaleKVError) => e.code === 'E_INVALID_REQUEST' && re.test(e.message),
    );
  bad(Buffer.from('not a png'), /signature/);
  bad(png.subarray(0, png.length - 20), /past the end|ends before/);
  const flipped = Buffer.from(png);
  flipped[40] ^= 0xff;
  bad(flipped, /CRC|inflate/);
});
