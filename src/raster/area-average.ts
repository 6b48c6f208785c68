/** One source pixel's share of one output cell along an axis. */
interface AxisWeight {
  source: number;
  target: number;
  weight: number;
}

/**
 * For an axis of `sourceLength` pixels reduced (or enlarged) to `targetLength` cells, the exact
 * overlap of every source pixel with every cell it touches, normalised so a cell's weights sum to 1.
 */
function axisWeights(sourceLength: number, targetLength: number): AxisWeight[] {
  const scale = sourceLength / targetLength;
  const weights: AxisWeight[] = [];
  for (let target = 0; target < targetLength; target++) {
    const start = target * scale;
    const end = start + scale;
    for (let source = Math.floor(start); source < Math.min(Math.ceil(end), sourceLength); source++) {
      const overlap = Math.min(end, source + 1) - Math.max(start, source);
      if (overlap > 1e-12) weights.push({ source, target, weight: overlap / scale });
    }
  }
  return weights;
}

/**
 * Resamples interleaved 8-bit pixels to `targetWidth` x `targetHeight` by an exact area average:
 * every source pixel adds to each output cell it overlaps, weighted by the overlap.
 * Returns unrounded means (Float32Array, same channel count) so callers choose how to quantise.
 * With `firstRow` and `rowCount`, only those output rows are computed (and returned), from only
 * the source rows they overlap, with the same values as in the whole result.
 */
export function areaAverage(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  targetWidth: number,
  targetHeight: number,
  firstRow = 0,
  rowCount = targetHeight,
): Float32Array {
  const xWeights = axisWeights(width, targetWidth);
  const yWeights = axisWeights(height, targetHeight).filter(({ target }) => target >= firstRow && target < firstRow + rowCount);
  // Sources grow with targets, so the first and last weights bound the source rows needed.
  const sourceTop = yWeights[0]?.source ?? 0;
  const sourceRows = (yWeights.at(-1)?.source ?? sourceTop - 1) + 1 - sourceTop;
  // Horizontal pass: every source row reduced to targetWidth cells.
  const rows = new Float32Array(sourceRows * targetWidth * channels);
  for (let y = 0; y < sourceRows; y++) {
    const sourceRow = (sourceTop + y) * width * channels;
    const targetRow = y * targetWidth * channels;
    for (const { source, target, weight } of xWeights) {
      const from = sourceRow + source * channels;
      const to = targetRow + target * channels;
      for (let c = 0; c < channels; c++) rows[to + c]! += weight * pixels[from + c]!;
    }
  }
  // Vertical pass over the reduced rows.
  const cells = new Float32Array(rowCount * targetWidth * channels);
  const rowLength = targetWidth * channels;
  for (const { source, target, weight } of yWeights) {
    const from = (source - sourceTop) * rowLength;
    const to = (target - firstRow) * rowLength;
    for (let i = 0; i < rowLength; i++) cells[to + i]! += weight * rows[from + i]!;
  }
  return cells;
}

/** Rounds float means to bytes, clamped to 0..255. */
export function toBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round(values[i]!)));
  return bytes;
}
