/** A small PNG encoder (8-bit RGB, zlib via node:zlib) for generated images. */
import { deflateSync } from 'node:zlib';
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
