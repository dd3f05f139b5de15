/** A small PNG encoder and decoder (8-bit RGB, zlib via node:zlib) for generated images. */
import { deflateSync, inflateSync } from 'node:zlib';
import { crc32 } from '../checkpoint/crc32';

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), Buffer.from(data)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** planar [3, H, W] 8-bit values -> PNG bytes */
export function encodePng(chw: Uint8Array, width: number, height: number): Buffer {
  if (chw.length !== 3 * width * height) throw new Error(`encodePng: ${chw.length} values for ${width}x${height} RGB`);
  const raw = Buffer.alloc(height * (1 + 3 * width));
  const plane = width * height;
  for (let y = 0; y < height; y++) {
    const row = y * (1 + 3 * width);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      raw[row + 1 + 3 * x] = chw[p];
      raw[row + 2 + 3 * x] = chw[plane + p];
      raw[row + 3 + 3 * x] = chw[2 * plane + p];
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 6 })), chunk('IEND', new Uint8Array(0))]);
}

/**
 * PNG bytes -> planar [3, H, W] 8-bit values, for the 8-bit RGB non-interlaced files encodePng writes
 * (all five row filters are undone, so files re-saved by other tools in that format read too). The
 * evaluation reads its reference images back with it: the PNGs hold exactly the values the metrics use.
 */
export function decodePng(png: Uint8Array): { width: number; height: number; chw: Uint8Array } {
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (b.length < 8 || b.readUInt32BE(0) !== 0x89504e47) throw new Error('decodePng: not a PNG file');
  let o = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (o + 8 <= b.length) {
    const len = b.readUInt32BE(o);
    const type = b.toString('ascii', o + 4, o + 8);
    const data = b.subarray(o + 8, o + 8 + len);
    if (data.length !== len) throw new Error(`decodePng: chunk ${type} is truncated`);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[9] !== 2 || data[12] !== 0) throw new Error('decodePng: only 8-bit RGB non-interlaced images are supported');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    o += 12 + len;
  }
  if (!width || !height) throw new Error('decodePng: no IHDR chunk');
  const stride = 3 * width;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== height * (1 + stride)) throw new Error(`decodePng: ${raw.length} bytes of image data for ${width}x${height} RGB`);
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (1 + stride)];
    const src = y * (1 + stride) + 1;
    const at = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? rows[at + i - 3] : 0;
      const up = y > 0 ? rows[at - stride + i] : 0;
      const c = y > 0 && i >= 3 ? rows[at - stride + i - 3] : 0;
      let pred: number;
      if (f === 0) pred = 0;
      else if (f === 1) pred = a;
      else if (f === 2) pred = up;
      else if (f === 3) pred = (a + up) >> 1;
      else if (f === 4) {
        const p = a + up - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      } else throw new Error(`decodePng: unknown row filter ${f}`);
      rows[at + i] = (raw[src + i] + pred) & 255;
    }
  }
  const plane = width * height;
  const chw = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    chw[p] = rows[3 * p];
    chw[plane + p] = rows[3 * p + 1];
    chw[2 * plane + p] = rows[3 * p + 2];
  }
  return { width, height, chw };
}
