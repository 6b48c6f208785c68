/** Where the benches find the repository, the CLI and the shared photos. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '..', '..');
/** The CLI as users run it (needs dist/). */
export const BIN = path.join(REPO_ROOT, 'bin', 'tsmosaic.js');
export const NODE = process.execPath;

/** ../shared beside the repository, or TSMOSAIC_SHARED. */
export function sharedFolder(): string {
  return path.resolve(process.env.TSMOSAIC_SHARED ?? path.join(REPO_ROOT, '..', 'shared'));
}
