export * from './users';
export * from './orgs';
export * from './api-keys';
export * from './bots';
export * from './audit';
export * from './mail';
export * from './knowledge';
export * from './idempotency';
