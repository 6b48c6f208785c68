import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../src/match/random.js';
import { insertRequired, type BandAssignment } from '../src/match/required-insertion.js';
import { exactMinimum } from './exact-assignment.js';

/**
 * A random band: `groupCount` groups of colours in a 100-unit cube with 1-12 units each, every
 * unit holding one of `held` pictures at a cost, and `missing` more pictures to insert. Pictures
 * 0..kept-1 must appear: each is held by one unit alone, which must not be given up.
 */
function problem(seed: number) {
  const random = seededRandom(seed);
  const groupCount = 3 + Math.floor(random() * 10);
  const sizes = Array.from({ length: groupCount }, () => 1 + Math.floor(random() * 12));
  const start = new Int32Array(groupCount + 1);
  sizes.forEach((size, g) => (start[g + 1] = start[g]! + size));
  const units = start[groupCount]!;
  const colours = Float32Array.from({ length: groupCount * 3 }, () => random() * 100);
  const kept = Math.floor(random() * Math.min(4, units));
  const heldPictures = kept + 3;
  const missing = Array.from({ length: 1 + Math.floor(random() * (units - kept)) }, (_, m) => heldPictures + m);
  const count = heldPictures + missing.length;
  const tileColours = Float32Array.from({ length: count * 3 }, () => random() * 100);
  const held: BandAssignment = {
    picture: new Int32Array(units),
    choice: new Int32Array(units),
    cost: new Float64Array(units),
    required: new Uint8Array(units),
  };
  // Units in a random order hold the kept pictures once each, the rest the other pictures.
  const cells = Int32Array.from({ length: units }, (_, i) => i);
  for (let unit = 0; unit < units; unit++) held.picture[unit] = unit < kept ? unit : kept + Math.floor(random() * 3);
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

test('required insertion places every missing picture, keeps the last use of each kept picture, near the exact optimum', () => {
  const ratios: number[] = [];
  for (let trial = 0; trial < 60; trial++) {
    const { groups, held, missing, count, kept, tileColours, groupOf, cost } = problem(1000 + trial);
    const before = { picture: held.picture.slice(), cost: held.cost.slice() };
    const unplaced = insertRequired(groups, held, missing, {
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
    assert.deepEqual(unplaced, [], `trial ${trial}`);
    const units = held.picture.length;
    const counts = new Int32Array(count);
    for (let unit = 0; unit < units; unit++) counts[held.picture[unit]!]!++;
    for (const picture of missing) assert.equal(counts[picture], 1, `trial ${trial}: picture ${picture} placed once`);
    for (let picture = 0; picture < kept; picture++) assert.equal(held.picture[picture], picture, `trial ${trial}: kept use given up`);
    // One unit of each kept or inserted picture is marked, no other.
    for (let unit = 0; unit < units; unit++) {
      const mustAppear = held.picture[unit]! < kept || held.picture[unit]! >= count - missing.length;
      assert.equal(held.required[unit], mustAppear ? 1 : 0, `trial ${trial}: unit ${unit} marked`);
      assert.equal(held.cost[unit], cost(groupOf[unit]!, held.picture[unit]!), `trial ${trial}: unit ${unit} costed`);
    }
    // Against the exact assignment of missing pictures to the units that may be given up.
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
