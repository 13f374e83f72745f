import type { Env, Config } from '../env';
import type { Db } from '../db/client';
import type { Actor, OrgContext } from '../context';

export interface AppBindings {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: Db;
    actor: Actor;
    org: OrgContext;
  };
}
