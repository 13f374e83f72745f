/**
 * The benchmark entry: the production Worker plus baseline routes under /__bench. Only
 * `npm run bench` bundles this file, so the baselines never ship in the production bundle.
 */
import { buildApp } from '../../src/app';
import { createWorker } from '../../src/worker';
import { benchRoutes } from './bare-route';
import { vectorBenchRoutes } from './vector-routes';
import { analyticsBenchRoutes } from './analytics-routes';

export { ConversationRoom, RateLimiter, LocalVectorStore } from '../../src/index';

export default createWorker(
  buildApp({
    mountExtraRoutes(app) {
      app.route('/', benchRoutes());
      app.route('/', vectorBenchRoutes());
      app.route('/', analyticsBenchRoutes());
    },
  }),
);
