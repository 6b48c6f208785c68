/**
 * One axis of an area average in gather form: output cell `c` is the sum over `k < taps` of
 * `weight[c * taps + k]` times source pixel `source[c * taps + k]` (a cell's weights sum to 1).
 * Every cell has the same number of taps, the most any cell overlaps; cells that overlap fewer
 * repeat their last source with weight 0, so the inner loops have a fixed length (and the usual
 * 2 and 3 taps get unrolled loops: process-collection's crops, 40 px and 28 px to 20, and their
 * 4x4 features took 1.6x less time than with a list of (source, cell, weight) entries).
 */
interface AxisWeights {
  taps: number;
  source: Int32Array;
  weight: Float64Array;
}

/**
 * For an axis of `sourceLength` pixels reduced (or enlarged) to `targetLength` cells, the exact
 * overlap of every source pixel with every cell it touches, normalised so a cell's weights sum to 1.
 */
function axisWeights(sourceLength: number, targetLength: number): AxisWeights {
  if (sourceLength >= 0x10000 || targetLength >= 0x10000) return computeAxisWeights(sourceLength, targetLength);
  const key = sourceLength * 0x10000 + targetLength;
  const known = recentWeights.get(key);
  if (known) return known;
  const weights = computeAxisWeights(sourceLength, targetLength);
  if (recentWeights.size >= RECENT_WEIGHTS) recentWeights.clear();
  recentWeights.set(key, weights);
  return weights;
}

/** Callers reduce many pictures of the same few sizes (tiles, crops): their weights are kept. */
const RECENT_WEIGHTS = 64;
const recentWeights = new Map<number, AxisWeights>();

function computeAxisWeights(sourceLength: number, targetLength: number): AxisWeights {
  const scale = sourceLength / targetLength;
  const cells: { sources: number[]; shares: number[] }[] = [];
  let taps = 1;
  for (let target = 0; target < targetLength; target++) {
    const start = target * scale;
    const end = start + scale;
    const cell = { sources: [] as number[], shares: [] as number[] };
    for (let source = Math.floor(start); source < Math.min(Math.ceil(end), sourceLength); source++) {
      const overlap = Math.min(end, source + 1) - Math.max(start, source);
      if (overlap > 1e-12) {
        cell.sources.push(source);
        cell.shares.push(overlap / scale);
      }
    }
    cells.push(cell);
    taps = Math.max(taps, cell.sources.length);
  }
  const source = new Int32Array(targetLength * taps);
  const weight = new Float64Array(targetLength * taps);
  cells.forEach(({ sources, shares }, target) => {
    for (let k = 0; k < taps; k++) {
      source[target * taps + k] = sources[Math.min(k, sources.length - 1)] ?? 0;
      weight[target * taps + k] = shares[k] ?? 0;
    }
  });
  return { taps, source, weight };
}

/** A rectangle of a picture: `left`, `top`, `width`, `height` in pixels. */
export interface Window {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resamples interleaved 8-bit pixels to `targetWidth` x `targetHeight` by an exact area average:
 * every source pixel adds to each output cell it overlaps, weighted by the overlap.
 * Returns unrounded means (Float32Array, same channel count) so callers choose how to quantise.
 * With `firstRow` and `rowCount`, only those output rows are computed (and returned), from only
 * the source rows they overlap, with the same values as in the whole result. With `window`, only
 * that part of the picture is resampled, as if it had been cut out first. With `into`, the means
 * are written to its start and that part of it is returned.
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
  window: Window = { left: 0, top: 0, width, height },
  into?: Float32Array,
): Float32Array {
  const x = axisWeights(window.width, targetWidth);
  const y = axisWeights(window.height, targetHeight);
  if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > targetHeight)
    throw new RangeError(`rows ${firstRow}-${firstRow + rowCount - 1} are outside the ${targetHeight} rows of the result`);
  const cells = into ? into.subarray(0, rowCount * targetWidth * channels) : new Float32Array(rowCount * targetWidth * channels);
  // (an empty window has nothing to average: zeros, as before the gather form)
  if (rowCount === 0 || window.width === 0 || window.height === 0) return cells.fill(0);
  // Sources grow with cells, so the first tap of the first row and the last of the last bound the source rows needed.
  const sourceTop = y.source[firstRow * y.taps]!;
  const sourceRows = y.source[(firstRow + rowCount) * y.taps - 1]! + 1 - sourceTop;
  const rowLength = targetWidth * channels;
  const rows = scratchRows(sourceRows * rowLength);
  for (let row = 0; row < sourceRows; row++) {
    const sourceRow = ((window.top + sourceTop + row) * width + window.left) * channels;
    if (channels === 3) reduceRow3(pixels, sourceRow, x, rows, row * rowLength, targetWidth);
    else reduceRow(pixels, sourceRow, channels, x, rows, row * rowLength, targetWidth);
  }
  const { taps, source, weight } = y;
  for (let cell = firstRow; cell < firstRow + rowCount; cell++) {
    const to = (cell - firstRow) * rowLength;
    const tap = cell * taps;
    if (taps === 2) {
      const a = (source[tap]! - sourceTop) * rowLength;
      const b = (source[tap + 1]! - sourceTop) * rowLength;
      const wa = weight[tap]!;
      const wb = weight[tap + 1]!;
      for (let j = 0; j < rowLength; j++) cells[to + j] = wa * rows[a + j]! + wb * rows[b + j]!;
    } else if (taps === 3) {
      const a = (source[tap]! - sourceTop) * rowLength;
      const b = (source[tap + 1]! - sourceTop) * rowLength;
      const c = (source[tap + 2]! - sourceTop) * rowLength;
      const wa = weight[tap]!;
      const wb = weight[tap + 1]!;
      const wc = weight[tap + 2]!;
      for (let j = 0; j < rowLength; j++) cells[to + j] = wa * rows[a + j]! + wb * rows[b + j]! + wc * rows[c + j]!;
    } else {
      for (let j = 0; j < rowLength; j++) {
        let sum = 0;
        for (let k = tap; k < tap + taps; k++) sum += weight[k]! * rows[(source[k]! - sourceTop) * rowLength + j]!;
        cells[to + j] = sum;
      }
    }
  }
  return cells;
}

/** One source row of 3-channel pixels from `from` reduced to `cells` cells written to `rows` at `to`. */
function reduceRow3(pixels: Uint8Array, from: number, x: AxisWeights, rows: Float64Array, to: number, cells: number): void {
  const { taps, source, weight } = x;
  if (taps === 2) {
    for (let cell = 0, tap = 0, out = to; cell < cells; cell++, tap += 2, out += 3) {
      const a = from + source[tap]! * 3;
      const b = from + source[tap + 1]! * 3;
      const wa = weight[tap]!;
      const wb = weight[tap + 1]!;
      rows[out] = wa * pixels[a]! + wb * pixels[b]!;
      rows[out + 1] = wa * pixels[a + 1]! + wb * pixels[b + 1]!;
      rows[out + 2] = wa * pixels[a + 2]! + wb * pixels[b + 2]!;
    }
  } else if (taps === 3) {
    for (let cell = 0, tap = 0, out = to; cell < cells; cell++, tap += 3, out += 3) {
      const a = from + source[tap]! * 3;
      const b = from + source[tap + 1]! * 3;
      const c = from + source[tap + 2]! * 3;
      const wa = weight[tap]!;
      const wb = weight[tap + 1]!;
      const wc = weight[tap + 2]!;
      rows[out] = wa * pixels[a]! + wb * pixels[b]! + wc * pixels[c]!;
      rows[out + 1] = wa * pixels[a + 1]! + wb * pixels[b + 1]! + wc * pixels[c + 1]!;
      rows[out + 2] = wa * pixels[a + 2]! + wb * pixels[b + 2]! + wc * pixels[c + 2]!;
    }
  } else {
    for (let cell = 0, tap = 0, out = to; cell < cells; cell++, tap += taps, out += 3) {
      let red = 0;
      let green = 0;
      let blue = 0;
      for (let k = tap; k < tap + taps; k++) {
        const at = from + source[k]! * 3;
        const w = weight[k]!;
        red += w * pixels[at]!;
        green += w * pixels[at + 1]!;
        blue += w * pixels[at + 2]!;
      }
      rows[out] = red;
      rows[out + 1] = green;
      rows[out + 2] = blue;
    }
  }
}

/** `reduceRow3` for any number of channels. */
function reduceRow(
  pixels: Uint8Array,
  from: number,
  channels: number,
  x: AxisWeights,
  rows: Float64Array,
  to: number,
  cells: number,
): void {
  const { taps, source, weight } = x;
  for (let cell = 0; cell < cells; cell++) {
    for (let c = 0; c < channels; c++) {
      let sum = 0;
      for (let k = cell * taps; k < (cell + 1) * taps; k++) sum += weight[k]! * pixels[from + source[k]! * channels + c]!;
      rows[to + cell * channels + c] = sum;
    }
  }
}

/** Doubles of the horizontal pass kept for the next call when small (process-collection cuts five tiles of every picture). */
const SCRATCH_DOUBLES = 64 * 1024;
let scratch = new Float64Array(0);

/** `length` doubles (every one is written before it is read): a view of the kept scratch array when small, else a new array. */
function scratchRows(length: number): Float64Array {
  if (length > SCRATCH_DOUBLES) return new Float64Array(length);
  if (scratch.length < length) scratch = new Float64Array(Math.min(SCRATCH_DOUBLES, Math.max(length, 2 * scratch.length)));
  return scratch.subarray(0, length);
}

/** Rounds float means to bytes, clamped to 0..255. */
export function toBytes(
  values: Float32Array,
  into: Uint8Array<ArrayBufferLike> = new Uint8Array(values.length),
  offset = 0,
): Uint8Array<ArrayBufferLike> {
  // (value + 0.5) | 0 is Math.round for the values left between the clamps (1.6x faster than
  // Math.min(255, Math.max(0, Math.round(value))) on a tile's 1,200 values).
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    into[offset + i] = value <= 0 ? 0 : value >= 255 ? 255 : (value + 0.5) | 0;
  }
  return into;
}
