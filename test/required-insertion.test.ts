import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../src/match/random.js';
import { insertRequired, type BandAssignment } from '../src/match/required-insertion.js';
import { exactMinimum } from './exact-assignment.js';

/**
 * A random band: `groupCount` groups of colours in a 100-unit cube with 1-12 units each, every
 * unit holding one of `held` pictures at a cost, and `missing` more pictures to insert. Pictures
 * 0..kept-1 must appear: each is held by `copies` units (1 to 3 when 0), of which one must stay.
 */
function problem(seed: number, copies: number) {
  const random = seededRandom(seed);
  const groupCount = 3 + Math.floor(random() * 10);
  const sizes = Array.from({ length: groupCount }, () => 1 + Math.floor(random() * 12));
  const start = new Int32Array(groupCount + 1);
  sizes.forEach((size, g) => (start[g + 1] = start[g]! + size));
  const units = start[groupCount]!;
  const colours = Float32Array.from({ length: groupCount * 3 }, () => random() * 100);
  const kept = Math.floor(random() * Math.min(4, units));
  const heldPictures = kept + 3;
  // Units in a random order hold the kept pictures (`copies` times each, as many as fit), the rest the other pictures.
  const holder = Array.from({ length: units }, (_, unit) => unit).sort(() => random() - 0.5);
  const picture = new Int32Array(units).map(() => kept + Math.floor(random() * 3));
  let next = 0;
  for (let p = 0; p < kept; p++) {
    const times = copies || 1 + Math.floor(random() * 3);
    for (let copy = 0; copy < times && next < units; copy++) picture[holder[next++]!] = p;
  }
  const givable = units - kept;
  const missing = Array.from({ length: 1 + Math.floor(random() * givable) }, (_, m) => heldPictures + m);
  const count = heldPictures + missing.length;
  const tileColours = Float32Array.from({ length: count * 3 }, () => random() * 100);
  const held: BandAssignment = {
    picture: new Int32Array(units),
    choice: new Int32Array(units),
    cost: new Float64Array(units),
    required: new Uint8Array(units),
  };
  const cells = Int32Array.from({ length: units }, (_, i) => i);
  held.picture.set(picture);
  const groupOf = new Int32Array(units);
  for (let g = 0; g < groupCount; g++) for (let i = start[g]!; i < start[g + 1]!; i++) groupOf[cells[i]!] = g;
  const cost = (group: number, picture: number): number =>
    Math.hypot(...[0, 1, 2].map((axis) => colours[group * 3 + axis]! - tileColours[picture * 3 + axis]!));
  for (let unit = 0; unit < units; unit++) {
    held.cost[unit] = cost(groupOf[unit]!, held.picture[unit]!);
    held.choice[unit] = held.picture[unit]! * 2;
  }
  return { groups: { count: groupCount, start, cells, colours }, held, missing, count, kept, tileColours, groupOf, cost };
}

/** Inserts `missing` by insertRequired with the problem's costs (one crop a picture). */
function insert(p: ReturnType<typeof problem>): number[] {
  const { groups, held, missing, count, kept, tileColours, cost } = p;
  return insertRequired(groups, held, missing, {
    count,
    tileColours,
    cropsPerPicture: 1,
    crops: 1,
    kept: (picture) => picture < kept || picture >= count - missing.length,
    cost: (group, picture, into) => {
      into.cost = cost(group, picture);
      into.choice = picture * 2;
    },
  });
}

/** Every missing picture placed once, every kept one still held, one unit marked for each, no budget broken, costs right. */
function assertInserted(p: ReturnType<typeof problem>, before: Int32Array, label: string): void {
  const { held, missing, count, kept, groupOf, cost } = p;
  const units = held.picture.length;
  const counts = new Int32Array(count);
  const earlier = new Int32Array(count);
  const marked = new Int32Array(count);
  for (let unit = 0; unit < units; unit++) {
    counts[held.picture[unit]!]!++;
    earlier[before[unit]!]!++;
    marked[held.picture[unit]!]! += held.required[unit]!;
    assert.equal(held.cost[unit], cost(groupOf[unit]!, held.picture[unit]!), `${label}: unit ${unit} costed`);
  }
  for (const picture of missing) assert.equal(counts[picture], 1, `${label}: picture ${picture} placed once`);
  for (let picture = 0; picture < count; picture++) {
    const mustAppear = picture < kept || picture >= count - missing.length;
    if (mustAppear) assert.ok(counts[picture]! >= 1, `${label}: kept picture ${picture} given up`);
    if (picture < count - missing.length) assert.ok(counts[picture]! <= earlier[picture]!, `${label}: picture ${picture} used more`);
    assert.equal(marked[picture], mustAppear ? 1 : 0, `${label}: units marked for picture ${picture}`);
  }
}

test('required insertion places every missing picture near the exact optimum, keeping the last use of each kept picture', () => {
  const ratios: number[] = [];
  for (let trial = 0; trial < 60; trial++) {
    const p = problem(1000 + trial, 1);
    const { held, missing, kept, groupOf, cost } = p;
    const before = { picture: held.picture.slice(), cost: held.cost.slice() };
    assert.deepEqual(insert(p), [], `trial ${trial}`);
    assertInserted(p, before.picture, `trial ${trial}`);
    // Against the exact assignment of missing pictures to the units that may be given up.
    const units = held.picture.length;
    const givable = Array.from({ length: units }, (_, unit) => unit).filter((unit) => before.picture[unit]! >= kept);
    const exact = exactMinimum(missing.map((picture) => givable.map((unit) => cost(groupOf[unit]!, picture) - before.cost[unit]!)));
    let ours = 0;
    for (let unit = 0; unit < units; unit++) ours += held.cost[unit]! - before.cost[unit]!;
    const base = before.cost.reduce((sum, value) => sum + value, 0);
    // The band's total cost against the least it can be.
    ratios.push((base + ours) / (base + exact));
    assert.ok(ours >= exact - 1e-6, `trial ${trial}: better than exact?`);
  }
  const worst = Math.max(...ratios);
  const mean = ratios.reduce((sum, ratio) => sum + ratio, 0) / ratios.length;
  assert.ok(mean <= 1.05 && worst <= 1.2, `band cost against the optimum: mean ${mean.toFixed(3)}, worst ${worst.toFixed(3)}`);
});

test("required insertion gives up a kept picture's other uses but never its last; with none to give, it says which are left", () => {
  // Kept pictures held 1-3 times: taking one use may make another its last.
  for (let trial = 0; trial < 200; trial++) {
    const p = problem(5000 + trial, 0);
    const before = p.held.picture.slice();
    assert.deepEqual(insert(p), [], `trial ${trial}`);
    assertInserted(p, before, `trial ${trial}`);
  }
  // Three units holding the only uses of three kept pictures: a fourth picture has nowhere to go.
  const held = {
    picture: Int32Array.of(0, 1, 2),
    choice: Int32Array.of(0, 2, 4),
    cost: Float64Array.of(1, 1, 1),
    required: new Uint8Array(3),
  };
  const groups = { count: 1, start: Int32Array.of(0, 3), cells: Int32Array.of(0, 1, 2), colours: Float32Array.of(50, 0, 0) };
  const pictures = {
    count: 4,
    tileColours: new Float32Array(12),
    cropsPerPicture: 1,
    crops: 1,
    kept: () => true,
    cost: (_: number, picture: number, into: { cost: number; choice: number }) => {
      into.cost = 2;
      into.choice = picture * 2;
    },
  };
  assert.deepEqual(insertRequired(groups, held, [3], pictures), [3]);
  assert.deepEqual(Array.from(held.picture), [0, 1, 2]);
  assert.throws(() => insertRequired(groups, held, [1], pictures), /picture 1 is held already/);
});
