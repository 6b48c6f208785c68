import { readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { BENCH_DIR, REPO_ROOT } from './paths.js';

/**
 * Compiles floor.ts to plain JS in the work folder, so its process is as bare as tsmosaic's compiled
 * dist/ (no tsx start-up); a node_modules link beside it lets it import sharp.
 */
export async function compileFloor(work: string): Promise<string> {
  const source = await readFile(path.join(BENCH_DIR, 'floor.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: 'floor.ts',
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const file = path.join(work, 'floor.mjs');
  await writeFile(file, outputText);
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
  return file;
}
