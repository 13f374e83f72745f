/**
 * Worker entry: the HTTP app, the queue consumer and the cron trigger, plus the Durable
 * Object classes the bindings in wrangler.toml point at.
 */
import { buildApp } from './app';
import { createWorker } from './worker';

export { ConversationRoom } from './durable/ConversationRoom';
export { RateLimiter } from './durable/RateLimiter';
export { LocalVectorStore } from './durable/LocalVectorStore';

export default createWorker(buildApp());
