/**
 * A small PNG codec (zlib via node:zlib): the encoder writes generated images (8-bit RGB); the decoder
 * reads them back for the prompt checker (8-bit grey, grey+alpha, RGB or RGBA, not interlaced).
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { crc32 } from '../checkpoint/crc32';
import { ScaleKVError } from '../shared/errors';

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
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** the largest image the decoder accepts (pixels), so a hostile header cannot ask for gigabytes */
const MAX_DECODE_PIXELS = 8192 * 8192;
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** PNG bytes -> 8-bit RGB, row-major H x W x 3 (alpha dropped, grey expanded) */
export function decodePng(png: Uint8Array, origin = 'image'): { width: number; height: number; data: Uint8Array } {
  const bad = (m: string): never => {
    throw new ScaleKVError('E_INVALID_REQUEST', `${origin} is not a PNG the checker can read: ${m}.`);
  };
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || buf.readUInt32BE(0) !== 0x89504e47 || buf.readUInt32BE(4) !== 0x0d0a1a0a) bad('no PNG signature');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  let o = 8;
  for (;;) {
    if (o + 12 > buf.length) bad('it ends before IEND');
    const len = buf.readUInt32BE(o);
    const type = buf.toString('ascii', o + 4, o + 8);
    if (o + 12 + len > buf.length) bad(`chunk ${type} runs past the end of the file`);
    const data = buf.subarray(o + 8, o + 8 + len);
    if (crc32(buf.subarray(o + 4, o + 8 + len)) !== buf.readUInt32BE(o + 8 + len)) bad(`chunk ${type} fails its CRC`);
    o += 12 + len;
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8) bad(`bit depth ${data[8]} (only 8 is read)`);
      channels = CHANNELS[data[9]] ?? bad(`colour type ${data[9]} (grey, RGB, grey+alpha or RGBA only)`);
      if (data[12] !== 0) bad('it is interlaced');
      if (!width || !height || width * height > MAX_DECODE_PIXELS) bad(`size ${width}x${height}`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
  }
  if (!channels) bad('no IHDR chunk');
  const stride = width * channels;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: height * (stride + 1) + 1 });
  } catch (e) {
    return bad(`its image data does not inflate (${(e as Error).message})`);
  }
  if (raw.length !== height * (stride + 1)) bad(`image data of ${raw.length} bytes for ${width}x${height}`);
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[row + x - channels] : 0;
      const b = y > 0 ? px[row - stride + x] : 0;
      const c = x >= channels && y > 0 ? px[row - stride + x - channels] : 0;
      const v = raw[src + x];
      if (f === 0) px[row + x] = v;
      else if (f === 1) px[row + x] = v + a;
      else if (f === 2) px[row + x] = v + b;
      else if (f === 3) px[row + x] = v + ((a + b) >> 1);
      else if (f === 4) px[row + x] = v + paeth(a, b, c);
      else bad(`row ${y} has filter type ${f}`);
    }
  }
  if (channels === 3) return { width, height, data: px };
  const rgb = new Uint8Array(3 * width * height);
  for (let p = 0; p < width * height; p++) {
    const grey = channels < 3;
    rgb[3 * p] = px[p * channels];
    rgb[3 * p + 1] = px[p * channels + (grey ? 0 : 1)];
    rgb[3 * p + 2] = px[p * channels + (grey ? 0 : 2)];
  }
  return { width, height, data: rgb };
}

/** PNG bytes -> 8-bit planes, C x H x W (the layout the engine's images and metrics use) */
export function decodePngPlanes(png: Uint8Array, origin = 'image'): { width: number; height: number; chw: Uint8Array } {
  const img = decodePng(png, origin);
  const plane = img.width * img.height;
  const chw = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) chw[c * plane + i] = img.data[i * 3 + c];
  return { width: img.width, height: img.height, chw };
}
