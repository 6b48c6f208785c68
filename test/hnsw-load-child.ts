/**
 * Child process of test/hnsw-file.test.ts: loads HNSW files with hnswlib-node and searches them
 * as tsmosaic does (readIndexSync, setEf, getCurrentCount, searchKnn), so that a file that
 * crashes hnswlib kills this process and not the test runner.
 *
 * Usage: node --import tsx test/hnsw-load-child.ts <pack.json>, where pack.json is
 * { blob: string; scratch: string; entries: { offset: number; length: number; dimensions: number }[] }:
 * each entry's bytes of `blob` are written to `scratch` and loaded from there. Before loading entry
 * i it writes `load i`, after searching it `ok i`; a load or search that throws writes
 * `error i <message>` and exits with code 3 (the hnswlib object is then left unusable).
 */
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import hnswlib from 'hnswlib-node';
import { seededRandom } from '../src/match/random.js';

interface Pack {
  blob: string;
  scratch: string;
  entries: { offset: number; length: number; dimensions: number }[];
}

const pack = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Pack;
const blob = openSync(pack.blob, 'r');
const random = seededRandom(7);
// One hnswlib object per dimension count, reloaded for every file: each load frees the previous graph.
const indexes = new Map<number, InstanceType<typeof hnswlib.HierarchicalNSW>>();
const say = (line: string): void => void writeSync(1, `${line}\n`);

for (const [i, { offset, length, dimensions }] of pack.entries.entries()) {
  const bytes = Buffer.alloc(length);
  readSync(blob, bytes, 0, length, offset);
  writeFileSync(pack.scratch, bytes);
  say(`load ${i}`);
  try {
    let ann = indexes.get(dimensions);
    if (!ann) indexes.set(dimensions, (ann = new hnswlib.HierarchicalNSW('l2', dimensions)));
    ann.readIndexSync(pack.scratch);
    ann.setEf(16);
    const count = ann.getCurrentCount();
    for (let q = 0; q < 4; q++) {
      // Queries within the vectors' range 0..100, and one far outside it.
      const query = Array.from({ length: dimensions }, () => (q === 3 ? -1e6 : random() * 100));
      for (const k of new Set([Math.min(1, count), Math.min(10, count), count])) ann.searchKnn(query, k);
    }
  } catch (error) {
    say(`error ${i} ${error instanceof Error ? error.message : String(error)}`);
    process.exit(3);
  }
  say(`ok ${i}`);
}
closeSync(blob);
say('done');
