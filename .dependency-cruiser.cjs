/**
 * The layers of docs/architecture.md, enforced: dependencies point one way, downward.
 *   cli -> main -> http -> features -> registry | auth -> storage -> domain -> errors
 *                             features -> content -> domain | storage/blob contracts -> errors
 *   cli -> client -> domain -> errors   (the client knows HTTP, not the server's layers)
 * (config, observability and errors may be used from anywhere above them.)
 */
const layer = (name) => `^src/${name}/`;
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'http-only-in-http',
      comment: 'Only http/ (and the composition root and CLI) may import fastify.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/http/', '^src/main\\.ts$', '^src/cli/'] },
      to: { path: 'node_modules/(fastify|@fastify)/' },
    },
    {
      name: 'registry-not-http',
      severity: 'error',
      from: { path: layer('registry') },
      to: { path: [layer('http'), layer('cli'), '^src/main\\.ts$'] },
    },
    {
      name: 'storage-not-above',
      severity: 'error',
      from: { path: layer('storage') },
      to: { path: [layer('registry'), layer('auth'), layer('http'), layer('cli'), layer('features'), '^src/main\\.ts$'] },
    },
    {
      name: 'registry-not-features',
      comment: 'The core knows no feature: features plug in through interfaces the core defines (registry/push-policy.ts).',
      severity: 'error',
      from: { path: layer('registry') },
      to: { path: [layer('features'), layer('auth')] },
    },
    {
      name: 'auth-not-http',
      comment: 'auth/ sits beside registry/: it decides, http/ speaks HTTP.',
      severity: 'error',
      from: { path: layer('auth') },
      to: { path: [layer('http'), layer('cli'), layer('client'), layer('registry'), layer('features'), '^src/main\\.ts$'] },
    },
    {
      name: 'client-is-standalone',
      comment: 'client/ is a typed HTTP client of /v2 and /api/v1: it may use domain/ and errors/, nothing of the server.',
      severity: 'error',
      from: { path: layer('client') },
      to: { path: '^src/(?!client/|domain/|errors/)' },
    },
    {
      name: 'domain-is-pure',
      comment: 'domain/ has no I/O and knows no other layer but errors/.',
      severity: 'error',
      from: { path: layer('domain') },
      to: { path: ['^src/(?!domain/|errors/)', 'node_modules'], pathNot: ['node_modules/@types/node'] },
    },
    {
      name: 'errors-is-a-leaf',
      severity: 'error',
      from: { path: layer('errors') },
      to: { path: '^src/(?!errors/)' },
    },
    {
      name: 'registry-not-features',
      comment: 'features/ are built on the core; the core never knows them.',
      severity: 'error',
      from: { path: layer('registry') },
      to: { path: layer('features') },
    },
    {
      name: 'features-not-above',
      comment: 'A feature is a service under http/: it never speaks HTTP, parses CLI flags or calls the client.',
      severity: 'error',
      from: { path: layer('features') },
      to: { path: [layer('http'), layer('cli'), layer('client'), '^src/main\\.ts$'] },
    },
    {
      name: 'features-apart',
      comment: "A feature never reaches into another feature's code or tables (it is handed that feature's service by main.ts).",
      severity: 'error',
      from: { path: '^src/features/([^/]+)/' },
      to: { path: '^src/features/', pathNot: ['^src/features/$1/'] },
    },
    {
      name: 'content-below-features',
      comment: 'content/ is the shared reading of image content (layer walk, inventories) under every feature: it may use domain/, errors/ and the blob contracts, never features, http, cli, client or main.ts.',
      severity: 'error',
      from: { path: layer('content') },
      to: { path: [layer('features'), layer('http'), layer('cli'), layer('client'), layer('registry'), layer('auth'), layer('jobs'), '^src/storage/metadata/', '^src/main\\.ts$'] },
    },
    {
      name: 'only-main-composes',
      comment: 'Only main.ts and the CLI wire stores into services.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/main\\.ts$', '^src/cli/'] },
      to: { path: ['^src/storage/metadata/open-metadata-store\\.ts$', '^src/main\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
