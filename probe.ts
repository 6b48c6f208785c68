import sharp from 'sharp';
import { processCollection } from './src/index.js';
sharp.cache(false);
const dir = process.argv[2]!;
const t0 = performance.now();
let last = '';
const marks: string[] = [];
const r = await processCollection(dir, { out: '/tmp/wt5-p/probe-' + Math.random(), rebuild: true, onProgress: ({ stage, done, total }) => {
  if (stage !== last || (stage === 'tiles' && done % 500 === 0)) { marks.push(`${stage} ${done}/${total} @ ${((performance.now() - t0) / 1000).toFixed(2)}`); last = stage; }
} });
marks.push(`end @ ${((performance.now() - t0) / 1000).toFixed(2)} tiles ${r.tiles}`);
console.log(marks.join('\n'));
