/**
 * Points of three coordinates (mean colours of tiles, or of cells) in groups of `groupSize` (the
 * crops of a picture) with a price per group, in a k-d tree: `nearest` finds the groups of lowest
 * distance + price to a colour. For the assignment, the pictures that are cheapest for a cell at
 * current prices, the euclidean distance of the mean colours standing in for the match cost; with
 * prices of 0, the cells nearest a picture. Each node keeps its subtree's bounding box and lowest
 * price, so that a search skips what cannot beat what it has found, and a price change updates the
 * paths to the root. Deterministic: ties go to the lower group.
 */
export class ColourTree {
  /** Point ids in tree order; the node over [from, to) is its middle element. */
  private readonly order: Int32Array;
  /** Tree position of each point's node (-1 for points not in the tree). */
  private readonly nodeOf: Int32Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly parent: Int32Array;
  /** Bounding box of each node's subtree: min x, y, z, max x, y, z. */
  private readonly box: Float32Array;
  /** Lowest price in each node's subtree. */
  private readonly lowest: Float64Array;
  private readonly root: number;
  // The query being answered and the best groups found, sorted by value.
  /** The query's colour, then its serial number. */
  private readonly query = new Float64Array(4);
  /** member[g] === the query's serial number while group g is among those found. */
  private readonly member: Float64Array;
  private foundGroups = new Int32Array(0);
  private foundPoints = new Int32Array(0);
  private foundValues = new Float64Array(0);
  private found = 0;
  private wanted = 0;
  private skip: Int32Array | undefined;
  private mark = 0;

  /**
   * @param colours the colour of point p at colours[p * stride], [+1], [+2]
   * @param points the points in the tree
   * @param groupSize point p is in group Math.floor(p / groupSize)
   * @param price each group's price, Infinity to leave it out (read, never written: the caller
   *   changes it, then calls `priced`)
   */
  constructor(
    private readonly colours: Float32Array,
    private readonly stride: number,
    points: Int32Array,
    private readonly groupSize: number,
    private readonly price: Float64Array,
  ) {
    const count = points.length;
    this.order = Int32Array.from(points);
    this.nodeOf = new Int32Array(colours.length / stride).fill(-1);
    this.left = new Int32Array(count).fill(-1);
    this.right = new Int32Array(count).fill(-1);
    this.parent = new Int32Array(count).fill(-1);
    this.box = new Float32Array(count * 6);
    this.lowest = new Float64Array(count);
    this.member = new Float64Array(price.length);
    this.root = count > 0 ? count >>> 1 : -1;
    this.build(count);
    for (let node = 0; node < count; node++) this.nodeOf[this.order[node]!] = node;
    // Boxes and lowest prices bottom-up: children come after their parent in the build's order, so by decreasing depth.
    const byDepth = this.depthOrder(count);
    for (let i = byDepth.length - 1; i >= 0; i--) this.refresh(byDepth[i]!);
  }

  /** Call after `price[group]` changed: updates the lowest prices above its points. */
  priced(group: number): void {
    const size = this.groupSize;
    for (let point = group * size; point < (group + 1) * size; point++) {
      const first = this.nodeOf[point]!;
      for (let node = first; node >= 0; node = this.parent[node]!) {
        const before = this.lowest[node]!;
        this.refreshLowest(node);
        if (this.lowest[node] === before && node !== first) break;
      }
    }
  }

  /** Updates the whole tree after many prices changed. */
  pricedAll(): void {
    const byDepth = this.depthOrder(this.order.length);
    for (let i = byDepth.length - 1; i >= 0; i--) this.refreshLowest(byDepth[i]!);
  }

  /**
   * The `k` groups of lowest value (distance of (x, y, z) to the nearest of their points + their
   * price), leaving out groups g with `skip[g] === mark`, lowest first: their groups, points and
   * values into `into` (`values` of k + 1). Returns how many there are; `values[k]` is then the
   * value of the next one (Infinity when there is none), a bound on every group not returned.
   */
  nearest(x: number, y: number, z: number, k: number, into: NearestGroups, skip?: Int32Array, mark = 0): number {
    const wanted = k + 1;
    if (this.foundGroups.length < wanted) {
      this.foundGroups = new Int32Array(wanted);
      this.foundPoints = new Int32Array(wanted);
      this.foundValues = new Float64Array(wanted);
    }
    this.query[0] = x;
    this.query[1] = y;
    this.query[2] = z;
    this.query[3]!++;
    this.found = 0;
    this.wanted = wanted;
    this.skip = skip;
    this.mark = mark;
    if (this.root >= 0) this.search(this.root, this.bound(this.root));
    const count = Math.min(k, this.found);
    into.groups.set(this.foundGroups.subarray(0, count));
    into.points.set(this.foundPoints.subarray(0, count));
    into.values.set(this.foundValues.subarray(0, count));
    into.values[count] = this.found > k ? this.foundValues[k]! : Infinity;
    return count;
  }

  /**
   * Calls `visit` with every point within `radius` of (x, y, z) (by distance alone, prices aside)
   * and that distance.
   */
  within(x: number, y: number, z: number, radius: number, visit: (point: number, distance: number) => void): void {
    if (this.root < 0) return;
    this.query[0] = x;
    this.query[1] = y;
    this.query[2] = z;
    const stack = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (this.boxDistance(node) > radius) continue;
      const point = this.order[node]!;
      const at = point * this.stride;
      const distance = Math.hypot(this.colours[at]! - x, this.colours[at + 1]! - y, this.colours[at + 2]! - z);
      if (distance <= radius) visit(point, distance);
      if (this.left[node]! >= 0) stack.push(this.left[node]!);
      if (this.right[node]! >= 0) stack.push(this.right[node]!);
    }
  }

  /** Searches the subtree of `node`, whose values are at least `bound`. */
  private search(node: number, bound: number): void {
    if (this.found === this.wanted && bound >= this.foundValues[this.wanted - 1]!) return;
    const point = this.order[node]!;
    const group = Math.floor(point / this.groupSize);
    const price = this.price[group]!;
    if (price < Infinity && (this.found < this.wanted || price < this.foundValues[this.wanted - 1]!)) {
      const at = point * this.stride;
      const dx = this.colours[at]! - this.query[0]!;
      const dy = this.colours[at + 1]! - this.query[1]!;
      const dz = this.colours[at + 2]! - this.query[2]!;
      const value = Math.sqrt(dx * dx + dy * dy + dz * dz) + price;
      if (this.found < this.wanted || value < this.foundValues[this.wanted - 1]!) this.offer(group, point, value);
    }
    const left = this.left[node]!;
    const right = this.right[node]!;
    const leftBound = left < 0 ? Infinity : this.bound(left);
    const rightBound = right < 0 ? Infinity : this.bound(right);
    // The more promising child first: it makes the other more likely to be skipped.
    if (leftBound <= rightBound) {
      if (left >= 0) this.search(left, leftBound);
      if (right >= 0) this.search(right, rightBound);
    } else {
      this.search(right, rightBound);
      if (left >= 0) this.search(left, leftBound);
    }
  }

  /** The lowest value any point under `node` can have: the distance to its box + its lowest price. */
  private bound(node: number): number {
    return this.boxDistance(node) + this.lowest[node]!;
  }

  /** The distance from the query to `node`'s box. */
  private boxDistance(node: number): number {
    const box = this.box;
    const at = node * 6;
    let squared = 0;
    for (let axis = 0; axis < 3; axis++) {
      const value = this.query[axis]!;
      const low = box[at + axis]!;
      const high = box[at + 3 + axis]!;
      const gap = value < low ? low - value : value > high ? value - high : 0;
      squared += gap * gap;
    }
    return Math.sqrt(squared);
  }

  /** Keeps (group, point, value) among the best `wanted` groups found so far (one entry per group, sorted by value, then group). */
  private offer(group: number, point: number, value: number): void {
    if (this.skip !== undefined && this.skip[group] === this.mark) return;
    const groups = this.foundGroups;
    const points = this.foundPoints;
    const values = this.foundValues;
    let position = this.found;
    if (this.member[group] === this.query[3]) {
      for (let i = 0; i < this.found; i++) {
        if (groups[i] !== group) continue;
        // Another point of a group found: keep the better one.
        if (values[i]! < value || (values[i] === value && points[i]! <= point)) return;
        position = i;
        break;
      }
    }
    if (position === this.found) {
      if (this.found === this.wanted) {
        const last = this.found - 1;
        if (values[last]! < value || (values[last] === value && groups[last]! < group)) return;
        // The last one found drops out.
        this.member[groups[last]!] = 0;
        position = last;
      } else {
        this.found++;
      }
    }
    while (position > 0 && (values[position - 1]! > value || (values[position - 1] === value && groups[position - 1]! > group))) {
      groups[position] = groups[position - 1]!;
      points[position] = points[position - 1]!;
      values[position] = values[position - 1]!;
      position--;
    }
    groups[position] = group;
    points[position] = point;
    values[position] = value;
    this.member[group] = this.query[3]!;
  }

  private build(count: number): void {
    const stack = [0, count, -1];
    while (stack.length > 0) {
      const parent = stack.pop()!;
      const to = stack.pop()!;
      const from = stack.pop()!;
      if (to <= from) continue;
      const middle = (from + to) >>> 1;
      if (to - from > 1) this.select(from, to, middle, this.widestAxis(from, to));
      this.parent[middle] = parent;
      if (parent >= 0) {
        if (middle < parent) this.left[parent] = middle;
        else this.right[parent] = middle;
      }
      stack.push(from, middle, middle, middle + 1, to, middle);
    }
  }

  /** Nodes, each after its parent. */
  private depthOrder(count: number): Int32Array {
    const nodes = new Int32Array(count);
    if (count === 0) return nodes;
    let filled = 0;
    nodes[filled++] = this.root;
    for (let i = 0; i < filled; i++) {
      const node = nodes[i]!;
      if (this.left[node]! >= 0) nodes[filled++] = this.left[node]!;
      if (this.right[node]! >= 0) nodes[filled++] = this.right[node]!;
    }
    return nodes;
  }

  /** Recomputes `node`'s box and lowest price from its point and its children's. */
  private refresh(node: number): void {
    const box = this.box;
    const at = node * 6;
    const colour = this.order[node]! * this.stride;
    for (let axis = 0; axis < 3; axis++) {
      box[at + axis] = this.colours[colour + axis]!;
      box[at + 3 + axis] = this.colours[colour + axis]!;
    }
    for (const child of [this.left[node]!, this.right[node]!]) {
      if (child < 0) continue;
      for (let axis = 0; axis < 3; axis++) {
        box[at + axis] = Math.min(box[at + axis]!, box[child * 6 + axis]!);
        box[at + 3 + axis] = Math.max(box[at + 3 + axis]!, box[child * 6 + 3 + axis]!);
      }
    }
    this.refreshLowest(node);
  }

  private refreshLowest(node: number): void {
    let lowest = this.price[Math.floor(this.order[node]! / this.groupSize)]!;
    const left = this.left[node]!;
    const right = this.right[node]!;
    if (left >= 0 && this.lowest[left]! < lowest) lowest = this.lowest[left]!;
    if (right >= 0 && this.lowest[right]! < lowest) lowest = this.lowest[right]!;
    this.lowest[node] = lowest;
  }

  private widestAxis(from: number, to: number): number {
    const { colours, order, stride } = this;
    let axis = 0;
    let widest = -1;
    for (let a = 0; a < 3; a++) {
      let low = Infinity;
      let high = -Infinity;
      for (let i = from; i < to; i++) {
        const value = colours[order[i]! * stride + a]!;
        if (value < low) low = value;
        if (value > high) high = value;
      }
      if (high - low > widest) {
        widest = high - low;
        axis = a;
      }
    }
    return axis;
  }

  /** Puts the element of rank `k` (by `axis`, ties by point id) of [from, to) at `k`, smaller before it (quickselect). */
  private select(from: number, to: number, k: number, axis: number): void {
    const { colours, order, stride } = this;
    let low = from;
    let high = to - 1;
    while (high > low) {
      // Median of three as the pivot, moved to `high`.
      const mid = (low + high) >>> 1;
      if (this.less(mid, low, axis)) this.swap(mid, low);
      if (this.less(high, low, axis)) this.swap(high, low);
      if (this.less(mid, high, axis)) this.swap(mid, high);
      const pivot = colours[order[high]! * stride + axis]!;
      const pivotId = order[high]!;
      let store = low;
      for (let i = low; i < high; i++) {
        const value = colours[order[i]! * stride + axis]!;
        if (value < pivot || (value === pivot && order[i]! < pivotId)) this.swap(i, store++);
      }
      this.swap(store, high);
      if (store === k) return;
      if (store < k) low = store + 1;
      else high = store - 1;
    }
  }

  /** Whether the point at position a comes before the one at b on `axis` (ties by id). */
  private less(a: number, b: number, axis: number): boolean {
    const { colours, order, stride } = this;
    const ka = colours[order[a]! * stride + axis]!;
    const kb = colours[order[b]! * stride + axis]!;
    return ka < kb || (ka === kb && order[a]! < order[b]!);
  }

  private swap(a: number, b: number): void {
    const order = this.order;
    const t = order[a]!;
    order[a] = order[b]!;
    order[b] = t;
  }
}

/** Where ColourTree.nearest writes: `values` holds one more than the groups asked for. */
export interface NearestGroups {
  groups: Int32Array;
  points: Int32Array;
  values: Float64Array;
}
