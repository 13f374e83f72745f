/** A ServiceContext for work that runs outside a request (queue consumer, cron). */
import { createDb } from '../db/client';
import { loadConfig, type Env } from '../env';
import type { ServiceContext } from '../context';
import { systemClock } from '../lib/clock';

export function jobContext(env: Env, ctx: ExecutionContext): ServiceContext {
  const config = loadConfig(env);
  if (!config.ok) throw new Error(`configuration invalid: ${config.problems.join('; ')}`);
  return {
    db: createDb(env.DB),
    config: config.config,
    env,
    clock: systemClock,
    meta: { ip: null, userAgent: 'kyrochat-jobs' },
    waitUntil: (p) => ctx.waitUntil(p),
  };
}
