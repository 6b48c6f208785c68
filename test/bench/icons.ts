/** `npm run bench:icons`: the icon-set part of the fidelity bench alone (see icon-set.ts). */
import path from 'node:path';
import { iconSetBench } from './icon-set.js';
import { BIN, NODE, sharedFolder } from './paths.js';
import { withWorkFolder } from './setup.js';

const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};
const lines = await withWorkFolder('bench-icons', log, (work) =>
  iconSetBench({ node: NODE, bin: BIN, photos: path.join(sharedFolder(), 'photos'), work, tilesAcross: 200, tileSize: 20, log }),
);
console.log(lines.join('\n'));
