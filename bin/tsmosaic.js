#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm run build`, run automatically by `npm ci`).
// `build` starts its cell worker first, so that the thread boots while the CLI loads.
const ahead = process.argv[2] === 'build'
  ? import('../dist/match/cell-worker-ahead.js').then(({ startCellWorkerAhead }) => startCellWorkerAhead(), () => undefined)
  : Promise.resolve();
ahead.then(() => import('../dist/cli/main.js')).then(
  ({ runMain }) => runMain(process.argv),
  (error) => {
    process.stderr.write(`tsmosaic: cannot load dist/cli/main.js (run \`npm run build\`): ${error.message}\n`);
    process.exitCode = 1;
  },
);
