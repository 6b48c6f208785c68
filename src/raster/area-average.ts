/**
 * One axis of an area average: entry `i` says that source pixel `source[i]` covers `weight[i]` of
 * output cell `target[i]` (a cell's weights sum to 1). Entries are sorted by target, then source.
 */
interface AxisWeights {
  source: Int32Array;
  target: Int32Array;
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
  const sources: number[] = [];
  const targets: number[] = [];
  const shares: number[] = [];
  for (let target = 0; target < targetLength; target++) {
    const start = target * scale;
    const end = start + scale;
    for (let source = Math.floor(start); source < Math.min(Math.ceil(end), sourceLength); source++) {
      const overlap = Math.min(end, source + 1) - Math.max(start, source);
      if (overlap > 1e-12) {
        sources.push(source);
        targets.push(target);
        shares.push(overlap / scale);
      }
    }
  }
  return { source: Int32Array.from(sources), target: Int32Array.from(targets), weight: Float64Array.from(shares) };
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
  // Weights are sorted by target: find the entries of the output rows asked for.
  let firstY = 0;
  while (firstY < y.target.length && y.target[firstY]! < firstRow) firstY++;
  let endY = firstY;
  while (endY < y.target.length && y.target[endY]! < firstRow + rowCount) endY++;
  // Sources grow with targets, so the first and last weights bound the source rows needed.
  const sourceTop = endY > firstY ? y.source[firstY]! : 0;
  const sourceRows = endY > firstY ? y.source[endY - 1]! + 1 - sourceTop : 0;
  // Horizontal pass: every source row reduced to targetWidth cells.
  const rows = zeroed(sourceRows * targetWidth * channels);
  const xCount = x.source.length;
  for (let row = 0; row < sourceRows; row++) {
    const sourceRow = ((window.top + sourceTop + row) * width + window.left) * channels;
    const targetRow = row * targetWidth * channels;
    for (let i = 0; i < xCount; i++) {
      const from = sourceRow + x.source[i]! * channels;
      const to = targetRow + x.target[i]! * channels;
      const weight = x.weight[i]!;
      if (channels === 3) {
        rows[to]! += weight * pixels[from]!;
        rows[to + 1]! += weight * pixels[from + 1]!;
        rows[to + 2]! += weight * pixels[from + 2]!;
      } else {
        for (let c = 0; c < channels; c++) rows[to + c]! += weight * pixels[from + c]!;
      }
    }
  }
  // Vertical pass over the reduced rows.
  const cells = into ? into.subarray(0, rowCount * targetWidth * channels).fill(0) : new Float32Array(rowCount * targetWidth * channels);
  const rowLength = targetWidth * channels;
  for (let i = firstY; i < endY; i++) {
    const from = (y.source[i]! - sourceTop) * rowLength;
    const to = (y.target[i]! - firstRow) * rowLength;
    const weight = y.weight[i]!;
    for (let j = 0; j < rowLength; j++) cells[to + j]! += weight * rows[from + j]!;
  }
  return cells;
}

/** Floats of the horizontal pass kept for the next call when small (process-collection cuts five tiles of every picture). */
const SCRATCH_FLOATS = 64 * 1024;
let scratch = new Float32Array(0);

/** `length` zeroed floats: a view of the kept scratch array when small, else a new array. */
function zeroed(length: number): Float32Array {
  if (length > SCRATCH_FLOATS) return new Float32Array(length);
  if (scratch.length < length) scratch = new Float32Array(Math.min(SCRATCH_FLOATS, Math.max(length, 2 * scratch.length)));
  return scratch.subarray(0, length).fill(0);
}

/** Rounds float means to bytes, clamped to 0..255. */
export function toBytes(values: Float32Array, into = new Uint8Array(values.length), offset = 0): Uint8Array {
  for (let i = 0; i < values.length; i++) into[offset + i] = Math.min(255, Math.max(0, Math.round(values[i]!)));
  return into;
}
