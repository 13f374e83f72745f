/**
 * The layer rules of docs/ARCHITECTURE.md, checked by `npm run lint:deps` (and .ci/run).
 * Data flows one way: route → service → db / ai / vector / egress / adapters / queue.
 */

// The route layer: the only code besides src/http that may know Hono. A feature's route files
// are routes.ts, *-route.ts, route-*.ts (route helpers) and schemas.ts (zod + OpenAPI schemas).
const ROUTE_LAYER = [
  '^src/http/',
  '^src/app\\.ts$',
  '^src/worker\\.ts$',
  '^src/index\\.ts$',
  '^src/features/[^/]+/(routes|schemas|[^/]+-route|route-[^/]+)\\.ts$',
];
const HONO = '(^|/)node_modules/(hono|@hono/|@scalar/hono-api-reference)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles anywhere in src: each module can be understood (and loaded) before the ones that use it.',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'hono-only-in-http-and-routes',
      severity: 'error',
      comment: 'Services, jobs and platform code take a ServiceContext (src/context.ts), never a Hono context.',
      from: { path: '^src/', pathNot: ROUTE_LAYER },
      to: { path: HONO },
    },
    {
      name: 'http-only-from-routes',
      severity: 'error',
      comment: 'Only the route layer talks HTTP: services return results, routes turn them into responses.',
      from: { path: '^src/', pathNot: ROUTE_LAYER },
      to: { path: '^src/http/' },
    },
    {
      name: 'no-feature-imports-another-features-routes',
      severity: 'error',
      comment: "Features call each other's services and schemas, never each other's routes.",
      from: { path: '^src/features/([^/]+)/' },
      to: { path: '^src/features/[^/]+/(routes|[^/]+-route|route-[^/]+)\\.ts$', pathNot: '^src/features/$1/' },
    },
    {
      name: 'src-not-to-bench-or-test',
      severity: 'error',
      comment: 'Benchmarks and tests are never part of the production bundle.',
      from: { path: '^src/' },
      to: { path: '^(bench|test)/' },
    },
    {
      name: 'platform-not-to-features',
      severity: 'error',
      comment: 'The platform layers know nothing of product features; features build on them.',
      from: { path: '^src/(vector|ai|egress|adapters|db|lib)/' },
      to: { path: '^src/features/' },
    },
    {
      name: 'jobs-only-from-entry',
      severity: 'error',
      comment:
        'Queue consumers and the cron handler are entered from the Worker entry only. Services send jobs ' +
        'through src/jobs/messages.ts (the typed message contract), the one module of src/jobs they may use.',
      from: { path: '^src/', pathNot: ['^src/jobs/', '^src/worker\\.ts$', '^src/index\\.ts$'] },
      to: { path: '^src/jobs/', pathNot: '^src/jobs/messages\\.ts$' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    // Type-only imports are checked too: a service that needs a Hono type already knows Hono.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // cloudflare:* modules are provided by workerd, not by node_modules.
    exclude: { path: '^cloudflare:' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
