import type { Env, Config } from '../env';
import type { Db } from '../db/client';
import type { Actor, OrgContext } from '../context';
import type { BotRow } from '../features/bots/service';
import type { VisitorClaims } from '../features/widget/visitor-token';

export interface AppBindings {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: Db;
    actor: Actor;
    org: OrgContext;
    /** Widget routes: the public bot of the path and the request's (allowed, normalized) Origin. */
    widget: { bot: BotRow; origin: string };
    /** Widget routes behind `visitorAuth`: the verified visitor token's claims. */
    visitor: VisitorClaims;
  };
}
