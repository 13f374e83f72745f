/**
 * Fuzzes every operation in the Worker's own /openapi.json, so routes added later are
 * covered without touching this file. For each operation, fast-check builds requests from
 * the operation's schemas: valid ones and mutated ones (wrong types, missing and extra
 * fields, strings past their limits up to ~1 MB, astral / RTL / combining / NUL text, odd
 * content types, broken JSON, hostile path segments and query strings). Each request is
 * sent by the owner of org B holding org A's ids, then by the owner of org A.
 *
 * Claims, checked on every answer: no 5xx; every 4xx is application/problem+json with type,
 * title, status and code; B never reaches A's objects (404, or the very refusal A gets for
 * the same request), and no success answered to B carries one of A's ids.
 *
 * Budget: the default suite runs DEFAULT_RUNS requests per operation. `npm run fuzz`
 * (vitest.fuzz.config.ts) runs for FUZZ_SECONDS (default 600) spread over the operations;
 * FUZZ_RUNS caps runs per operation, FUZZ_SEED replays a run (every failure prints it).
 */
import { SELF, env } from 'cloudflare:test';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BASE } from '../support/api';
import { operationsOf, resolver, type OpenApiDocument, type Operation } from '../support/fuzz/openapi';
import { render, requestArbitrary, type RenderedRequest } from '../support/fuzz/requests';
import { answerProblems, crossOrgProblems, type Answer } from '../support/fuzz/oracle';
import { FuzzWorld, type Actor } from '../support/fuzz/world';

declare module 'vitest' {
  interface ProvidedContext {
    FUZZ_SECONDS?: number;
    FUZZ_RUNS?: number;
    FUZZ_SEED?: number;
  }
}

const DEFAULT_RUNS = 8;
/** Safety net for the default suite: one slow operation cannot eat the file's budget. */
const DEFAULT_MS_PER_OPERATION = 4_000;

/**
 * Operations whose success would end or change the session (or the org-wide provider) the
 * rest of the fuzzing runs in. They are fuzzed like the others, but each run as the owner
 * of a freshly registered org; there are no ids of A's to hold, so B does not send them.
 */
const FRESH_ACCOUNT_OPERATIONS: Record<string, string> = {
  'POST /api/v1/auth/logout': 'ends the session it is sent with',
  'DELETE /api/v1/users/me': 'deactivates the account',
  'POST /api/v1/users/me/password': 'signs out the other sessions',
  'PATCH /api/v1/settings': "points the org's embeddings at a random provider URL, which every later search and ingestion in org A would call",
};

/**
 * Operations no generated request can complete: their success needs a secret the generator
 * cannot know. Their refusals are fuzzed; the coverage check below does not expect a 2xx.
 */
const NO_SUCCESS_EXPECTED: Record<string, string> = {
  'POST /api/v1/auth/login': 'needs the password of an existing account',
  'POST /api/v1/auth/refresh': 'needs a refresh token issued by a sign-in',
  'POST /api/v1/auth/password/reset': 'needs the token mailed by forgot-password',
  'POST /api/v1/auth/email/verify': 'needs the token mailed at registration',
  'POST /api/v1/auth/oidc/token': 'the test environment configures no OIDC issuer',
  'POST /api/v1/invitations/{token}/accept': "the invitation is addressed to someone else's email",
  'POST /api/v1/users/me/password': 'needs the current password',
  'DELETE /api/v1/users/me': 'a fresh account is the only owner of its org, which must keep one',
  'POST /hooks/{slug}': "needs a random integration URL and a Standard Webhooks signature made with the integration's secret",
  // A browser's: an allowed Origin header (the generator sends none) and, past the session, the
  // visitor token that session issues; the widget's own tests cover their successes.
  'GET /api/v1/widget/{botId}/config': 'needs an Origin the bot allows',
  'POST /api/v1/widget/{botId}/session': 'needs an Origin the bot allows',
  'POST /api/v1/widget/{botId}/chat': 'needs a visitor token and its Origin',
  'GET /api/v1/widget/{botId}/conversations': 'needs a visitor token and its Origin',
  'GET /api/v1/widget/{botId}/conversations/{conversationId}/messages': 'needs a visitor token and its Origin',
  'POST /api/v1/widget/{botId}/conversations/{conversationId}/messages/{messageId}/feedback': 'needs a visitor token and its Origin',
  'POST /api/v1/widget/{botId}/leads': 'needs a visitor token and its Origin',
  'POST /api/v1/widget/{botId}/conversations/{conversationId}/confirmations/{confirmationId}': 'needs a visitor token and a pending confirmation',
  'POST /api/v1/widget/{botId}/conversations/{conversationId}/handoff': 'needs a visitor token and its Origin',
  'GET /api/v1/widget/{botId}/conversations/{conversationId}/ws': 'needs a WebSocket upgrade and a visitor token',
  'GET /api/v1/conversations/{conversationId}/ws': 'needs a WebSocket upgrade (426 otherwise)',
  'GET /widget/v/{version}/widget.js': "needs the current bundle's content hash",
  'POST /api/v1/conversations/{conversationId}/confirmations/{confirmationId}': 'needs a pending confirmation of a paused turn',
};

const doc = (await (await SELF.fetch(`${BASE}/openapi.json`)).json()) as OpenApiDocument;
const operations = operationsOf(doc);
const resolve = resolver(doc);

const seconds = inject('FUZZ_SECONDS');
const masterSeed = inject('FUZZ_SEED') ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
const runsPerOperation = inject('FUZZ_RUNS') ?? (seconds ? 1_000_000_000 : DEFAULT_RUNS);
const msPerOperation = seconds ? Math.floor((seconds * 1000) / operations.length) : DEFAULT_MS_PER_OPERATION;

/** Deletes run last, and the bot (which takes its sources and documents with it) very last. */
function runOrder(ops: Operation[]): Operation[] {
  const rank = (op: Operation) => (op.method !== 'DELETE' ? 0 : op.pathParams.at(-1)?.name === 'botId' ? 2 : 1);
  return [...ops].sort((a, b) => rank(a) - rank(b));
}

function seedFor(op: Operation): number {
  let h = masterSeed;
  for (const ch of op.key) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h | 0;
}

async function send(request: RenderedRequest): Promise<Answer> {
  const res = await SELF.fetch(request.url, request.init);
  const openAi = new URL(request.url).pathname.startsWith('/v1/');
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text(), openAi };
}

const shown = (answer: Answer) => `${answer.status} ${answer.contentType} ${answer.text.slice(0, 500)}`;

let world: FuzzWorld;
/** A's current ids and identity: none may appear in a success answered to B unless B sent it. */
const secretsOfA = () => [...Object.values(world.ids), world.ownerA.userId, world.ownerA.email];
const statusesByOperation = new Map<string, Map<number, number>>();

function record(op: Operation, status: number) {
  const seen = statusesByOperation.get(op.key) ?? new Map<number, number>();
  seen.set(status, (seen.get(status) ?? 0) + 1);
  statusesByOperation.set(op.key, seen);
}

function leakedSecrets(b: Answer, request: RenderedRequest): string[] {
  if (b.status >= 300) return [];
  const sent = `${request.url} ${typeof request.init.body === 'string' ? request.init.body : ''}`;
  return secretsOfA().filter((secret) => b.text.includes(secret) && !sent.includes(secret)).map((secret) => `B's ${b.status} answer contains A's ${secret}`);
}

beforeAll(async () => {
  world = await FuzzWorld.seed();
}, 60_000);

/**
 * Lets the ingestion jobs the fuzzing queued settle before the file's runtime is torn down
 * (a job still logging then is reported as an unhandled error). Not an assertion: jobs in
 * retry backoff may outlive the wait, and that is fine.
 */
async function drainJobs(timeoutMs: number) {
  const busy = () =>
    env.DB.prepare(
      `SELECT (SELECT count(*) FROM sources WHERE status IN ('queued', 'processing', 'deleting'))
            + (SELECT count(*) FROM documents WHERE status IN ('pending', 'processing')) AS n`,
    ).first<{ n: number }>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && ((await busy())?.n ?? 0) > 0) await scheduler.wait(250);
}

afterAll(async () => {
  await drainJobs(seconds ? 120_000 : 20_000);
  const lines = [...statusesByOperation].map(([key, seen]) => `${key.padEnd(60)} ${[...seen].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ')}`);
  console.log(`openapi-fuzz: seed ${masterSeed}, A's statuses per operation:\n${lines.join('\n')}`);
}, 180_000);

describe("the fuzzer's checks", () => {
  const problem = (status: number, extra: Record<string, unknown> = {}): Answer => ({
    status,
    contentType: 'application/problem+json; charset=utf-8',
    text: JSON.stringify({ type: 'https://kyrochat.dev/problems/x', title: 'X', status, code: 'x', ...extra }),
  });

  it('flag a 5xx, a 4xx that is not problem+json, and a problem without type, title, status or code', () => {
    expect(answerProblems(problem(500))).toEqual(['answered 500']);
    expect(answerProblems({ status: 404, contentType: 'text/plain', text: 'Not Found' })).toEqual([
      'a 404 with content-type "text/plain"',
      'a 404 whose body is not JSON',
    ]);
    expect(answerProblems(problem(400, { code: undefined, status: 422 }))).toEqual(['problem without "code"', 'problem status 422 on a 400']);
    expect(answerProblems(problem(409))).toEqual([]);
    expect(answerProblems({ status: 204, contentType: '', text: '' })).toEqual([]);
  });

  it("flag B reaching A's ids, a 403 for them, or a refusal A does not get", () => {
    expect(crossOrgProblems({ status: 200, contentType: 'application/json', text: '{}' }, problem(200), ['botId'])).toHaveLength(1);
    expect(crossOrgProblems(problem(403), problem(200), ['botId'])).toHaveLength(1);
    expect(crossOrgProblems(problem(409, { code: 'source_busy' }), { status: 202, contentType: 'application/json', text: '{}' }, ['sourceId'])).toHaveLength(1);
  });

  it("accept a 404 for A's ids, the refusal A gets too, any refusal when A was rate limited, and anything for requests without A's ids", () => {
    expect(crossOrgProblems(problem(400, { code: 'validation_failed' }), problem(429, { code: 'rate_limited' }), ['sourceId'])).toEqual([]);
    expect(crossOrgProblems(problem(403, { code: 'forbidden' }), problem(429, { code: 'rate_limited' }), ['sourceId'])).not.toEqual([]);
    expect(crossOrgProblems(problem(404), problem(200), ['botId'])).toEqual([]);
    expect(crossOrgProblems(problem(400, { code: 'validation_failed' }), problem(400, { code: 'validation_failed' }), ['botId'])).toEqual([]);
    expect(crossOrgProblems({ status: 200, contentType: 'application/json', text: '{}' }, null, [])).toEqual([]);
  });
});

describe('the OpenAPI document the fuzzer walks', () => {
  it('lists at least the 49 operations the API had when the fuzzer was written', () => {
    expect(operations.length).toBeGreaterThanOrEqual(49);
  });

  it('names only existing operations in its lists of exceptions', () => {
    const keys = new Set(operations.map((op) => op.key));
    const listed = [...Object.keys(FRESH_ACCOUNT_OPERATIONS), ...Object.keys(NO_SUCCESS_EXPECTED)];
    expect(listed.filter((key) => !keys.has(key))).toEqual([]);
  });
});

describe(`every operation, fuzzed (FUZZ_SEED=${masterSeed})`, () => {
  for (const op of runOrder(operations)) {
    const freshReason = FRESH_ACCOUNT_OPERATIONS[op.key];
    it(`${op.key}: no 5xx, every 4xx a problem, A's ids a 404 to B`, async () => {
      let runs = 0;
      const property = fc.asyncProperty(requestArbitrary(op, world, resolve), async (plan) => {
        runs++;
        await world.keepSessionsFresh();
        const failures: string[] = [];
        const sent: string[] = [];
        const sendAs = async (actor: Actor) => {
          const request = render(op, plan, actor, world, BASE);
          const answer = await send(request);
          sent.push(`${request.summary}\n  → ${shown(answer)}`);
          failures.push(...answerProblems(answer).map((p) => `as ${actor.label}: ${p}`));
          return { request, answer };
        };

        if (freshReason) {
          const { answer } = await sendAs(await world.freshActor());
          record(op, answer.status);
        } else {
          const needsB = op.authenticated || op.pathParams.length > 0;
          const b = needsB ? await sendAs(world.actorB) : null;
          const a = await sendAs(world.actorA);
          record(op, a.answer.status);
          if (b) {
            // A public operation (no security, e.g. a public bot's widget config) answers anyone
            // alike: B reaching it is by design, but its answer must still carry none of A's secrets.
            const crossOrg = op.authenticated ? crossOrgProblems(b.answer, a.answer, b.request.foreignIds) : [];
            failures.push(...crossOrg, ...leakedSecrets(b.answer, b.request));
          }
          // A success consumed the fixture the last path parameter named: make a new one.
          const consumed = op.pathParams.at(-1)?.name;
          if (op.method === 'DELETE' && a.answer.status < 300 && consumed && plan.params[consumed]?.kind === 'fixture') {
            await world.replenish(consumed);
          }
        }
        if (failures.length > 0) {
          throw new Error(`${failures.join('\n')}\nreplay: FUZZ_SEED=${masterSeed} npm run fuzz -- -t '${op.key}'\n${sent.join('\n')}`);
        }
      });
      await fc.assert(property, {
        seed: seedFor(op),
        numRuns: runsPerOperation,
        interruptAfterTimeLimit: msPerOperation,
        markInterruptAsFailure: false,
        endOnFailure: true,
      });
      expect(runs).toBeGreaterThan(0);
    }, msPerOperation + 60_000);
  }

  // Guards against a fuzzer that only ever hears refusals (a broken fixture, an expired
  // token, a generator the routes reject): its checks would then cover error paths alone.
  it('reached a success on at least 3 in 4 of the operations that can succeed', () => {
    const canSucceed = operations.filter((op) => !(op.key in NO_SUCCESS_EXPECTED) && statusesByOperation.has(op.key));
    const succeeded = canSucceed.filter((op) => [...statusesByOperation.get(op.key)!.keys()].some((status) => status < 300));
    const missing = canSucceed.filter((op) => !succeeded.includes(op)).map((op) => op.key);
    expect(canSucceed.length).toBeGreaterThan(0);
    expect(succeeded.length / canSucceed.length, `no success on: ${missing.join(', ')}`).toBeGreaterThanOrEqual(0.75);
  });
});
