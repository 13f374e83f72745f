import { DurableObject } from 'cloudflare:workers';
// Placeholder until the rate limiter lands in this same change (helper-owned file).
export class RateLimiter extends DurableObject {}
