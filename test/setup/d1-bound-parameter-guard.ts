/**
 * Production D1 rejects a statement with more than 100 bound parameters; local D1 (SQLite)
 * accepts it, so an unchunked `IN (…)` passes every local test and fails in production. This
 * guard makes local D1 as strict as production for the whole suite.
 *
 * It patches `bind` on D1's prepared-statement prototype. The Worker under test (SELF.fetch,
 * queue consumers, cron, Durable Objects) runs in the test isolate, so the same prototype
 * serves its statements, drizzle's included (drizzle binds every statement, parameterless
 * ones too). test/platform/d1-bound-parameters.test.ts proves the guard sees the Worker's
 * statements, so a regression here cannot silently switch the whole check off.
 */
import { env } from 'cloudflare:test';
import { D1_MAX_BOUND_PARAMETERS } from '../../src/limits';

const GUARD = Symbol.for('kyrochat.d1BoundParameterGuard');

export interface D1GuardState {
  /** Distinct SQL texts bound since the isolate started (bounded: it only proves coverage). */
  seen: Set<string>;
}

const MAX_REMEMBERED_STATEMENTS = 5000;

type StatementInternals = { statement?: unknown; bind: (...values: unknown[]) => unknown };

function install(): D1GuardState {
  const holder = globalThis as unknown as Record<symbol, D1GuardState | undefined>;
  const existing = holder[GUARD];
  if (existing) return existing;
  const state: D1GuardState = { seen: new Set() };
  const prototype = Object.getPrototypeOf(env.DB.prepare('SELECT 1')) as StatementInternals;
  const originalBind = prototype.bind;
  prototype.bind = function guardedBind(this: StatementInternals, ...values: unknown[]) {
    const sql = typeof this.statement === 'string' ? this.statement : '<unknown statement>';
    if (state.seen.size < MAX_REMEMBERED_STATEMENTS) state.seen.add(sql);
    if (values.length > D1_MAX_BOUND_PARAMETERS) {
      throw new Error(
        `D1 bound-parameter guard: ${values.length} parameters bound, production D1 allows ${D1_MAX_BOUND_PARAMETERS} (too many SQL variables): ${sql.slice(0, 300)}`,
      );
    }
    return originalBind.apply(this, values);
  };
  holder[GUARD] = state;
  return state;
}

export const d1Guard = install();
