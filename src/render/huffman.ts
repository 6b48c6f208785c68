/**
 * Huffman codes as deflate (RFC 1951) wants them: lengths limited to a maximum, canonical codes,
 * bit-reversed for deflate's least-significant-bit-first stream.
 */

/**
 * Huffman code lengths of at most `maxBits` bits for symbols of frequencies `frequencies` (0:
 * unused, length 0; a single used symbol gets length 1). A Huffman code longer than `maxBits` is
 * shortened as JPEG does (ITU T.81 Annex K.3, Adjust_BITS), which keeps the code complete and
 * costs a fraction of a percent against an optimal limited code.
 * @throws {RangeError} when the used symbols cannot fit `maxBits` bits (more than 2^maxBits).
 */
export function huffmanLengths(frequencies: ArrayLike<number>, maxBits: number): Uint8Array {
  const lengths = new Uint8Array(frequencies.length);
  if (frequencies.length > 0x10000) throw new RangeError(`${frequencies.length} symbols: at most 65,536`);
  // Used symbols lightest first (equal weights in symbol order, so the code is the same on every
  // run): sorted as numbers, weight * 2^16 + symbol, which needs no comparison function.
  let count = 0;
  for (let symbol = 0; symbol < frequencies.length; symbol++) {
    const frequency = frequencies[symbol]!;
    // (Sorted below as frequency * 2^16 + symbol, exact for whole frequencies below 2^36.)
    if (!Number.isInteger(frequency) || frequency < 0 || frequency >= 2 ** 36)
      throw new RangeError(`frequency of symbol ${symbol}: ${frequency}, not a whole number from 0 to 2^36`);
    if (frequency > 0) count++;
  }
  if (count > 2 ** maxBits) throw new RangeError(`${count} symbols do not fit codes of ${maxBits} bits`);
  if (count === 0) return lengths;
  const keys = new Float64Array(count);
  for (let symbol = 0, i = 0; symbol < frequencies.length; symbol++)
    if (frequencies[symbol]! > 0) keys[i++] = frequencies[symbol]! * 0x10000 + symbol;
  keys.sort();
  const used = Array.from(keys, (key) => key % 0x10000);
  if (count === 1) {
    lengths[used[0]!] = 1;
    return lengths;
  }
  const depths = huffmanDepths(used.map((symbol) => frequencies[symbol]!));
  let longest = depths.reduce((max, depth) => Math.max(max, depth), 0);
  if (longest > maxBits) {
    // Codes of each length, then Adjust_BITS: two codes of the longest length give way to one a
    // bit shorter, and a shorter code splits in two to keep the count (the code stays complete).
    const counts = new Array<number>(longest + 1).fill(0);
    for (const depth of depths) counts[depth]!++;
    for (let length = longest; length > maxBits; length--) {
      while (counts[length]! > 0) {
        let shorter = length - 2;
        while (counts[shorter] === 0) shorter--;
        counts[length]! -= 2;
        counts[length - 1]!++;
        counts[shorter + 1]! += 2;
        counts[shorter]!--;
      }
    }
    longest = maxBits;
    // The new lengths, longest to the lightest symbols.
    let length = longest;
    for (let i = 0; i < depths.length; i++) {
      while (counts[length] === 0) length--;
      depths[i] = length;
      counts[length]!--;
    }
  }
  used.forEach((symbol, i) => (lengths[symbol] = depths[i]!));
  return lengths;
}

/**
 * Depths in a Huffman tree of leaves of weights `weights` (lightest first, at least two): two
 * queues, the leaves and the nodes joined from them (joined in order of weight).
 */
function huffmanDepths(weights: number[]): number[] {
  const n = weights.length;
  // Nodes 0..n-1 are the leaves, n..2n-2 the joined nodes, the last of them the root.
  const weight = new Float64Array(2 * n - 1);
  const parent = new Int32Array(2 * n - 1);
  weight.set(weights);
  let leaf = 0;
  let joined = n;
  for (let made = n; made < 2 * n - 1; made++) {
    // The two lightest of the next leaf and the next joined node (joined nodes below `made` exist).
    const first = leaf < n && (joined >= made || weight[leaf]! <= weight[joined]!) ? leaf++ : joined++;
    const second = leaf < n && (joined >= made || weight[leaf]! <= weight[joined]!) ? leaf++ : joined++;
    weight[made] = weight[first]! + weight[second]!;
    parent[first] = made;
    parent[second] = made;
  }
  const depth = new Uint8Array(2 * n - 1);
  for (let node = 2 * n - 3; node >= 0; node--) depth[node] = depth[parent[node]!]! + 1;
  return Array.from(depth.subarray(0, n));
}

/**
 * The canonical codes for `lengths` (RFC 1951 3.2.2), each bit-reversed so that it can be written
 * least significant bit first, as deflate streams are.
 */
export function reversedCodes(lengths: Uint8Array): Uint16Array {
  const maxBits = lengths.reduce((max, length) => Math.max(max, length), 0);
  const counts = new Uint16Array(maxBits + 1);
  for (const length of lengths) if (length > 0) counts[length]!++;
  const next = new Uint32Array(maxBits + 2);
  for (let bits = 1, code = 0; bits <= maxBits; bits++) {
    code = (code + counts[bits - 1]!) << 1;
    next[bits] = code;
  }
  const codes = new Uint16Array(lengths.length);
  lengths.forEach((length, symbol) => {
    if (length === 0) return;
    const code = next[length]!++;
    let reversed = 0;
    for (let bit = 0; bit < length; bit++) reversed |= ((code >>> bit) & 1) << (length - 1 - bit);
    codes[symbol] = reversed;
  });
  return codes;
}
