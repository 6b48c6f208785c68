#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm run build`, run automatically by `npm ci`).
// `build` starts its cell worker first, so that the thread boots while the CLI loads (a worker
// that cannot start is no error here: the build starts its own, or works without).
const ahead = process.argv[2] === 'build'
  ? import('../dist/match/cell-worker-ahead.js').then(
    (module) => {
      try {
        module.startCellWorkerAhead();
      } catch {
        // see above
      }
      return module;
    },
    () => undefined,
  )
  : Promise.resolve(undefined);
ahead.then(async (module) => {
  let main;
  try {
    main = await import('../dist/cli/main.js');
  } catch (error) {
    // A worker started ahead is asked to stop and waited for, not torn down mid-start by the exit.
    await module?.stopCellWorkerAhead();
    process.stderr.write(`tsmosaic: cannot load dist/cli/main.js (run \`npm run build\`): ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  await main.runMain(process.argv);
});
