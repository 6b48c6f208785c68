/** `npm run bench:icons`: the icon-set part of the fidelity bench alone (see icon-set.ts). */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { iconSetBench } from './icon-set.js';
import { BIN, NODE, sharedFolder } from './paths.js';

const work = await mkdtemp(path.join(os.tmpdir(), 'tsmosaic-bench-icons-'));
try {
  const lines = await iconSetBench({
    node: NODE,
    bin: BIN,
    photos: path.join(sharedFolder(), 'photos'),
    work,
    tilesAcross: 200,
    tileSize: 20,
    log: (message) => process.stderr.write(`bench: ${message}\n`),
  });
  console.log(lines.join('\n'));
} finally {
  await rm(work, { recursive: true, force: true });
}
