#!/usr/bin/env node
// Thin shim: the CLI lives in dist/ (built by `npm run build`, which `npm ci` runs).
import('../dist/cli/main.js').then(
  (cli) => cli.runMain(process.argv),
  (error) => {
    process.stderr.write(`tsmosaic: cannot load dist/cli/main.js (run \`npm run build\`): ${error.message}\n`);
    process.exitCode = 1;
  },
);
