/** The checker's image type: 8-bit RGB, row-major H x W x 3 (the dataset's and the PNG decoder's layout). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** planar [3, H, W] bytes (the engine's layout) -> interleaved HWC */
export function fromChw(chw: Uint8Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    data[3 * p] = chw[p];
    data[3 * p + 1] = chw[plane + p];
    data[3 * p + 2] = chw[2 * plane + p];
  }
  return { width, height, data };
}
