/**
 * Imports point one way: CLI -> API and orchestrators -> stages -> index store and target ->
 * leaves. `npm run lint:deps` fails on a cycle or an import against that direction.
 */
const LEAVES = '^src/(errors|load-sharp|start-worker|text|yield|collect-garbage)\\.ts$|^src/(tiles|colour|raster|files|options)/';
const LOWER = '^src/(index-store|target)/';
const STAGES = '^src/(collection|match|render|quality)/';
const ORCHESTRATORS = '^src/(build/|index\\.ts$)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No cycles between files (and so between folders).',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'leaves-import-leaves',
      severity: 'error',
      comment: 'Leaves (tile features, colour, raster, files, options, errors) import only other leaves.',
      from: { path: LEAVES },
      to: { path: '^src/', pathNot: LEAVES },
    },
    {
      name: 'store-and-target-import-leaves',
      severity: 'error',
      comment: 'The index store and the target import only leaves (and themselves).',
      from: { path: LOWER },
      to: { path: `${STAGES}|${ORCHESTRATORS}|^src/cli/` },
    },
    { name: 'index-store-not-target', severity: 'error', from: { path: '^src/index-store/' }, to: { path: '^src/target/' } },
    { name: 'target-not-index-store', severity: 'error', from: { path: '^src/target/' }, to: { path: '^src/index-store/' } },
    {
      name: 'stages-import-lower',
      severity: 'error',
      comment: 'A stage imports the index store, the target and leaves, never another stage or an orchestrator.',
      from: { path: '^src/(collection|match|render|quality)/' },
      to: { path: `${ORCHESTRATORS}|^src/cli/` },
    },
    {
      name: 'no-stage-to-stage',
      severity: 'error',
      from: { path: '^src/([^/]+)/', pathNot: '^src/(cli|build|index-store|target|tiles|colour|raster|files|options)/' },
      to: { path: STAGES, pathNot: '^src/$1/' },
    },
    { name: 'orchestrators-not-cli', severity: 'error', from: { path: ORCHESTRATORS }, to: { path: '^src/cli/' } },
    {
      name: 'bin-only-cli-main',
      severity: 'error',
      comment: 'bin/ is a shim into the CLI entry.',
      from: { path: '^bin/' },
      to: { path: '^(src|dist)/', pathNot: '^dist/cli/main\\.js$' },
    },
  ],
  options: {
    doNotFollow: { path: '^(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
