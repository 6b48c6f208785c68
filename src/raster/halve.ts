/**
 * One row of an image reduced by two in both directions: each output pixel is the rounded mean of
 * the 2x2 block of `upper` and `lower` (interleaved 8-bit RGB rows of `width` px) it covers. An odd
 * last column averages the one column there is; pass the same row twice for an odd last row.
 */
export function halveRows(upper: Uint8Array, lower: Uint8Array, width: number): Buffer {
  const half = Math.ceil(width / 2);
  const out = Buffer.allocUnsafe(half * 3);
  const pairs = Math.floor(width / 2);
  for (let x = 0; x < pairs; x++) {
    const from = x * 6;
    const to = x * 3;
    out[to] = (upper[from]! + upper[from + 3]! + lower[from]! + lower[from + 3]! + 2) >> 2;
    out[to + 1] = (upper[from + 1]! + upper[from + 4]! + lower[from + 1]! + lower[from + 4]! + 2) >> 2;
    out[to + 2] = (upper[from + 2]! + upper[from + 5]! + lower[from + 2]! + lower[from + 5]! + 2) >> 2;
  }
  if (width % 2 === 1) {
    const from = (width - 1) * 3;
    const to = pairs * 3;
    for (let c = 0; c < 3; c++) out[to + c] = (upper[from + c]! + lower[from + c]! + 1) >> 1;
  }
  return out;
}
