import type { Env } from '../env';

/** Cron trigger: periodic maintenance. */
export async function runScheduled(_controller: ScheduledController, _env: Env, _ctx: ExecutionContext) {}
