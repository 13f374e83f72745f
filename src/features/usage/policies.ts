/** Names of the RateLimiter policies the usage report reads back (the middleware books them). */
export const USER_RATE_LIMIT_POLICY = 'user';
