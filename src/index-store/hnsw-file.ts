/**
 * Checks an hnswlib HierarchicalNSW index file (hnswlib-node 3, hnswlib 0.8 `saveIndex`) before
 * hnswlib reads it. hnswlib's loader trusts every byte: an entry point past the elements makes a
 * search read and jump through wild memory, a max_elements below the element count overruns its
 * heap block while loading, a huge element count allocates without bound. Index folders are
 * shared, so a file must be one hnswlib can load and search safely before it is handed over.
 *
 * The layout (hnswalg.h `saveIndex`/`loadIndex`; size_t 8 bytes, in the byte order of the
 * machine, as hnswlib writes and reads them):
 *
 *     0  offsetLevel0_           size_t  0
 *     8  max_elements_           size_t  capacity the loader allocates (when the file holds elements)
 *    16  cur_element_count       size_t  elements
 *    24  size_data_per_element_  size_t  level-0 list + vector + label
 *    32  label_offset_           size_t
 *    40  offsetData_             size_t
 *    48  maxlevel_               int32   top level (-1 when empty)
 *    52  enterpoint_node_        uint32  element searches start from (0xffffffff when empty)
 *    56  maxM_, 64 maxM0_, 72 M_ size_t  neighbours per upper-level list, per level-0 list, M
 *    80  mult_                   double  level factor, 1 / ln M (only used to add elements)
 *    88  ef_construction_        size_t  (only used to add elements)
 *    96  per element: level-0 list (uint32 header: count in the low 16 bits, the deleted mark in
 *        bit 16; then maxM0_ uint32 neighbour ids), the vector (float32s), the label (size_t)
 *  then  per element: uint32 linkListSize, then linkListSize bytes: the element's lists of levels
 *        1.. (its level is linkListSize / (4 + 4 maxM_)), each a uint32 header and maxM_ ids
 *
 * Imports nothing but built-ins, so that a worker or a tool can use it alone.
 */

/** Bytes of the header before the elements. */
export const HNSW_HEADER_BYTES = 96;

/**
 * Highest level accepted. hnswlib draws an element's level as floor(-ln(u) / ln M) with u of
 * at most 62 random bits, so no level it draws exceeds 43 / ln 2 = 62 for any M >= 2 (M 16: 15).
 */
export const HNSW_MAX_LEVEL = 64;

/** Highest ef_construction accepted (hnswlib stores max(efConstruction, M); it is not used by searches). */
export const HNSW_MAX_EF_CONSTRUCTION = 65_536;

/** What the file must hold: as the index folder's manifest describes it. */
export interface HnswExpected {
  /** float32 values per vector (space 'l2'). */
  dimensions: number;
  /** Elements the file must hold exactly. */
  count: number;
  /** M the index was built with: upper-level lists of at most M neighbours, level-0 lists of 2M. */
  m: number;
  /** Labels must be whole numbers in [0, labels), distinct within the file. */
  labels: number;
}

/** What the header tells of the file: the range its length must lie in. */
export interface HnswFileBounds {
  /** Least length: the elements, their link-list sizes and the entry point's upper-level lists. */
  minBytes: number;
  /** Greatest length: with as many upper-level lists as hnswlib could have drawn (see `maxUpperLists`). */
  maxBytes: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 4294967296;
const EMPTY_ENTRY_POINT = 0xffffffff;

/**
 * Checks the 96-byte header (extra bytes are ignored) against `expected` and returns the range
 * the file's length must lie in, or why the file is refused. Lets a caller refuse a file by its
 * size before reading it whole; `checkHnswFile` repeats these checks.
 * @throws {RangeError} when `expected` is not a possible description (a caller's mistake).
 */
export function checkHnswHeader(header: Uint8Array, expected: HnswExpected): HnswFileBounds | string {
  checkExpected(expected);
  if (header.length < HNSW_HEADER_BYTES) return `the file has ${header.length} bytes, fewer than the ${HNSW_HEADER_BYTES} of its header`;
  const view = new DataView(header.buffer, header.byteOffset, HNSW_HEADER_BYTES);
  const { dimensions, count, m } = expected;
  const levelZeroBytes = 4 + 8 * m;
  const labelOffset = levelZeroBytes + 4 * dimensions;
  const perElement = labelOffset + 8;
  const sizeFields: [number, string, number][] = [
    [0, 'offsetLevel0', 0],
    [16, 'element count', count],
    [24, 'size_data_per_element', perElement],
    [32, 'label_offset', labelOffset],
    [40, 'offsetData', levelZeroBytes],
    [56, 'maxM', m],
    [64, 'maxM0', 2 * m],
    [72, 'M', m],
  ];
  for (const [offset, name, wanted] of sizeFields) {
    if (u64(view, offset) !== wanted) return `${name} is ${u64Text(view, offset)}, expected ${wanted}`;
  }
  // The loader allocates max_elements slots when the file holds elements; tsmosaic sizes each index to what it holds.
  const capacity = u64(view, 8);
  if (capacity < count || capacity > Math.max(1, count))
    return `max_elements is ${u64Text(view, 8)}, expected ${count === 0 ? '0 or 1' : count}`;
  const maxLevel = view.getInt32(48, LITTLE_ENDIAN);
  const entryPoint = view.getUint32(52, LITTLE_ENDIAN);
  if (count === 0) {
    if (maxLevel !== -1) return `maxlevel is ${maxLevel} in an index of no elements, expected -1`;
    if (entryPoint !== EMPTY_ENTRY_POINT) return `entry point ${entryPoint} in an index of no elements, expected ${EMPTY_ENTRY_POINT}`;
  } else {
    if (maxLevel < 0 || maxLevel > HNSW_MAX_LEVEL) return `maxlevel is ${maxLevel}, expected 0 to ${HNSW_MAX_LEVEL}`;
    if (entryPoint >= count) return `entry point ${entryPoint} is not one of the ${count} elements`;
  }
  const mult = view.getFloat64(80, LITTLE_ENDIAN);
  // hnswlib sets 1 / log(M); HNSW_MAX_LEVEL and maxUpperLists rest on it.
  if (!Number.isFinite(mult) || mult <= 0 || Math.abs(mult * Math.log(m) - 1) > 1e-9)
    return `mult is ${mult}, expected 1 / ln ${m} = ${1 / Math.log(m)}`;
  const efConstruction = u64(view, 88);
  if (efConstruction < m || efConstruction > HNSW_MAX_EF_CONSTRUCTION)
    return `ef_construction is ${u64Text(view, 88)}, expected ${m} to ${HNSW_MAX_EF_CONSTRUCTION}`;
  const upperList = 4 + 4 * m;
  const levelZero = HNSW_HEADER_BYTES + count * (perElement + 4);
  return { minBytes: levelZero + Math.max(0, maxLevel) * upperList, maxBytes: levelZero + maxUpperLists(count, m) * upperList };
}

/**
 * Upper-level lists (levels 1 and up, over all elements) accepted in a file of `count` elements:
 * 2 count / (M - 1) + HNSW_MAX_LEVEL. hnswlib gives an element level >= k with probability
 * M^-k, so the elements hold count / (M - 1) lists on average; a real index exceeding twice that
 * plus 64 is astronomically unlikely at any size (at 10^6 elements that is ~250 standard
 * deviations above the mean at M 16, ~700 at M 2; a few elements would need levels near 64).
 */
export function maxUpperLists(count: number, m: number): number {
  return count === 0 ? 0 : Math.min(count * HNSW_MAX_LEVEL, Math.ceil((2 * count) / (m - 1)) + HNSW_MAX_LEVEL);
}

/**
 * Checks a whole index file before hnswlib reads it: returns undefined when hnswlib can load it
 * and search it safely (every structure searches follow in bounds, every element live, vectors
 * finite, labels whole, in range and distinct), else a short one-line reason.
 * @throws {RangeError} when `expected` is not a possible description (a caller's mistake).
 */
export function checkHnswFile(bytes: Uint8Array, expected: HnswExpected): string | undefined {
  const bounds = checkHnswHeader(bytes, expected);
  if (typeof bounds === 'string') return bounds;
  const length = bytes.length;
  if (length < bounds.minBytes) return `the file has ${length} bytes, fewer than the ${bounds.minBytes} its header implies`;
  if (length > bounds.maxBytes) return `the file has ${length} bytes, more than the ${bounds.maxBytes} its header allows`;

  const { dimensions, count, m, labels } = expected;
  if (count === 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const maxLevel = view.getInt32(48, LITTLE_ENDIAN);
  const entryPoint = view.getUint32(52, LITTLE_ENDIAN);
  // Everything after the header is in 4-byte words, read in the machine's byte order as hnswlib does.
  const words = wordsOf(bytes);
  const maxM0 = 2 * m;
  const elementWords = 1 + maxM0 + dimensions + 2;
  const listWords = 1 + m;
  const upperList = 4 * listWords;

  // The link-list sizes: each element's level, and the exact length they imply.
  const upperStart = HNSW_HEADER_BYTES / 4 + count * elementWords;
  const levels = new Uint8Array(count);
  const maxLists = maxUpperLists(count, m);
  let lists = 0;
  let at = upperStart;
  for (let i = 0; i < count; i++) {
    if (at >= words.length) return `the file ends in element ${i}'s link-list size (byte ${4 * at} of ${length})`;
    const size = words[at++]!;
    if (size === 0) continue;
    if (size % upperList !== 0) return `element ${i}'s upper-level lists take ${size} bytes, not a multiple of ${upperList}`;
    const level = size / upperList;
    if (level > maxLevel) return `element ${i} has level ${level}, above the index's maxlevel ${maxLevel}`;
    lists += level;
    if (lists > maxLists) return `more than ${maxLists} upper-level lists for ${count} elements`;
    if (4 * at + size > length) return `the file ends in element ${i}'s upper-level lists (${size} bytes from byte ${4 * at} of ${length})`;
    levels[i] = level;
    at += size / 4;
  }
  if (4 * at !== length) return `the file has ${length - 4 * at} bytes after its last element`;
  if (levels[entryPoint] !== maxLevel)
    return `entry point ${entryPoint} has level ${levels[entryPoint]}, not the index's maxlevel ${maxLevel}`;

  // Level 0: link lists, vectors, labels.
  const seen = new LabelSet(labels, count);
  const [labelLow, labelHigh] = LITTLE_ENDIAN ? [0, 1] : [1, 0];
  for (let i = 0, base = HNSW_HEADER_BYTES / 4; i < count; i++, base += elementWords) {
    const header = words[base]!;
    if (header >>> 16 !== 0)
      return (header >>> 16) & 1
        ? `element ${i} is marked deleted`
        : `element ${i}'s level-0 list header ${hex(header)} has bits set above its count`;
    const links = header & 0xffff;
    if (links > maxM0) return `element ${i} has ${links} level-0 neighbours, more than maxM0 ${maxM0}`;
    for (let j = base + 1; j <= base + links; j++) {
      if (words[j]! >= count) return `element ${i}'s level-0 neighbour ${words[j]} is not one of the ${count} elements`;
    }
    const data = base + 1 + maxM0;
    for (let d = data; d < data + dimensions; d++) {
      // All exponent bits set: an infinity or a NaN.
      if ((words[d]! & 0x7f800000) === 0x7f800000)
        return `element ${i}'s vector value ${d - data} is ${new Float32Array(words.buffer, words.byteOffset + 4 * d, 1)[0]}`;
    }
    const labelAt = data + dimensions;
    const label = words[labelAt + labelHigh]! * TWO_32 + words[labelAt + labelLow]!;
    if (label >= labels) return `element ${i}'s label ${u64Text(view, 4 * labelAt)} is not below ${labels}`;
    if (!seen.add(label)) return `label ${label} is held by two elements`;
  }
  const duplicate = seen.duplicate();
  if (duplicate !== undefined) return `label ${duplicate} is held by two elements`;

  // Upper levels: a search steps from an element's list at level l only to elements of level >= l.
  at = upperStart;
  for (let i = 0; i < count; i++) {
    const level = levels[i]!;
    at++;
    for (let l = 1; l <= level; l++, at += listWords) {
      const header = words[at]!;
      if (header >>> 16 !== 0) return `element ${i}'s level-${l} list header ${hex(header)} has bits set above its count`;
      const links = header & 0xffff;
      if (links > m) return `element ${i} has ${links} level-${l} neighbours, more than maxM ${m}`;
      for (let j = at + 1; j <= at + links; j++) {
        const neighbour = words[j]!;
        if (neighbour >= count) return `element ${i}'s level-${l} neighbour ${neighbour} is not one of the ${count} elements`;
        if (levels[neighbour]! < l) return `element ${i}'s level-${l} neighbour ${neighbour} has level ${levels[neighbour]}`;
      }
    }
  }
  return undefined;
}

/** `bytes` as whole 4-byte words (a trailing part word left out): a view when it is 4-byte aligned, else a copy. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  const whole = Math.floor(bytes.length / 4);
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, whole);
  const copy = new Uint32Array(whole);
  new Uint8Array(copy.buffer).set(bytes.subarray(0, 4 * whole));
  return copy;
}

/** Throws a RangeError unless `expected` describes a possible index. */
function checkExpected({ dimensions, count, m, labels }: HnswExpected): void {
  const whole = (value: number, least: number, most: number): boolean => Number.isInteger(value) && value >= least && value <= most;
  // maxM0 = 2M must fit the 16-bit count of a list header (hnswlib caps M at 10,000).
  if (!whole(m, 2, 10_000)) throw new RangeError(`M must be a whole number from 2 to 10000, received ${m}`);
  if (!whole(dimensions, 1, 65_536)) throw new RangeError(`dimensions must be a whole number from 1 to 65536, received ${dimensions}`);
  // Element ids are 32-bit, and searches treat them as int (with the bounds above, every length stays below 2^53).
  if (!whole(count, 0, 0x7fffffff)) throw new RangeError(`count must be a whole number from 0 to ${0x7fffffff}, received ${count}`);
  if (!whole(labels, 0, Number.MAX_SAFE_INTEGER)) throw new RangeError(`labels must be a whole number, received ${labels}`);
}

/** A size_t field as a number: exact below 2^53, else at least 2^53 (never equal to a wanted value). */
function u64(view: DataView, offset: number): number {
  const high = view.getUint32(offset + (LITTLE_ENDIAN ? 4 : 0), LITTLE_ENDIAN);
  const low = view.getUint32(offset + (LITTLE_ENDIAN ? 0 : 4), LITTLE_ENDIAN);
  return high >= 0x200000 ? 2 ** 64 : high * TWO_32 + low;
}

/** A size_t field exactly, for messages. */
function u64Text(view: DataView, offset: number): string {
  return view.getBigUint64(offset, LITTLE_ENDIAN).toString();
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/**
 * Labels seen, to find two elements of one label: a bitmap of `labels` bits when that is small
 * (labels are tile ids, so in tsmosaic always), else the labels kept and sorted at the end.
 */
class LabelSet {
  private readonly bits: Uint8Array | undefined;
  private readonly all: Float64Array | undefined;
  private held = 0;

  constructor(labels: number, count: number) {
    if (labels <= Math.max(1 << 24, count * 64) && labels <= TWO_32) this.bits = new Uint8Array(Math.ceil(labels / 8));
    else this.all = new Float64Array(count);
  }

  /** Records `label`; false when the bitmap had it already. */
  add(label: number): boolean {
    if (this.all) {
      this.all[this.held++] = label;
      return true;
    }
    const byte = Math.floor(label / 8);
    const bit = 1 << (label % 8);
    if (this.bits![byte]! & bit) return false;
    this.bits![byte]! |= bit;
    return true;
  }

  /** A label recorded twice (without the bitmap), if any. */
  duplicate(): number | undefined {
    if (!this.all) return undefined;
    const sorted = this.all.subarray(0, this.held).sort();
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) return sorted[i];
    return undefined;
  }
}
