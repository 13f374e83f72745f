/**
 * The fixtures the fuzzer aims at. Org A has one of everything a route can name by id (a
 * bot, a text source, a document, an API key, a pending invitation and its token, a
 * member, a conversation); org B's owner holds A's ids and must never reach them. B acts as an owner so
 * that no role check can stand in for the tenancy check.
 *
 * A successful DELETE consumes a fixture; `replenish` makes a new one so the operations
 * after it still aim at something that exists.
 */
import { call, register, type Account, type CallOptions } from '../api';
import { invite, joinAs } from '../accounts';
import { seedConversation } from '../chat';

export interface Actor {
  label: 'A' | 'B' | 'fresh';
  token: string;
  orgId: string;
  /** The other tenant's org, for requests that name a foreign org in X-Org-Id. */
  otherOrgId: string;
}

/** Path parameters that are bearer capabilities, not ids: holding one is the permission. */
export const CAPABILITY_PARAMS = new Set(['token']);

let setupIp = 0;
/** Each setup call comes from its own address, so the fuzzer's own 429s never break setup. */
const nextSetupIp = () => `198.18.${(setupIp >> 8) & 255}.${setupIp++ & 255}`;

/** Access tokens live 15 minutes by default; a long fuzz run renews them well before. */
const SESSION_RENEW_AFTER_MS = 10 * 60 * 1000;

export class FuzzWorld {
  readonly ids: Record<string, string> = {};
  private sessionsIssuedAt = Date.now();
  private constructor(
    readonly ownerA: Account,
    readonly ownerB: Account,
  ) {}

  static async seed(): Promise<FuzzWorld> {
    const world = new FuzzWorld(await register('fuzz-owner-a'), await register('fuzz-owner-b'));
    world.ids.orgId = world.ownerA.orgId;
    world.ids.botId = world.ownerA.botId;
    await world.replenish('sourceId');
    await world.replenish('documentId');
    await world.replenish('keyId');
    await world.replenish('invitationId');
    await world.replenish('memberId');
    await world.replenish('conversationId');
    await world.replenish('integrationId');
    await world.replenish('webhookId');
    await world.replenish('escalationId');
    world.ids.userId = world.ownerA.userId;
    await world.replenish('actionId');
    return world;
  }

  get actorA(): Actor {
    return { label: 'A', token: this.ownerA.token, orgId: this.ownerA.orgId, otherOrgId: this.ownerB.orgId };
  }

  get actorB(): Actor {
    return { label: 'B', token: this.ownerB.token, orgId: this.ownerB.orgId, otherOrgId: this.ownerA.orgId };
  }

  /** Renews A's and B's access tokens when a long run gets near their expiry. */
  async keepSessionsFresh(): Promise<void> {
    if (Date.now() - this.sessionsIssuedAt < SESSION_RENEW_AFTER_MS) return;
    for (const owner of [this.ownerA, this.ownerB]) {
      const res = await call('POST', '/api/v1/auth/refresh', { body: { refreshToken: owner.refreshToken }, ip: nextSetupIp() });
      if (res.status !== 200) throw new Error(`fuzz setup: refresh failed: ${res.status} ${JSON.stringify(res.body)}`);
      owner.token = res.body.accessToken;
      owner.refreshToken = res.body.refreshToken;
    }
    this.sessionsIssuedAt = Date.now();
  }

  /** A newly registered owner of a new org, for operations that end or change their session. */
  async freshActor(): Promise<Actor> {
    const account = await register('fuzz-fresh', {});
    return { label: 'fresh', token: account.token, orgId: account.orgId, otherOrgId: this.ownerA.orgId };
  }

  /** The id of A's fixture a path parameter of this name refers to, if there is one. */
  idFor(param: string): string | undefined {
    return this.ids[param];
  }

  /** Every A id a path parameter could be filled with (for wrong-kind ids). */
  allIds(): string[] {
    return Object.entries(this.ids)
      .filter(([name]) => !CAPABILITY_PARAMS.has(name))
      .map(([, id]) => id);
  }

  private async asA(method: string, path: string, opts: CallOptions = {}) {
    // A may have created more orgs while being fuzzed, so it always names org A.
    const res = await call(method, path, { token: this.ownerA.token, orgId: this.ownerA.orgId, ip: nextSetupIp(), ...opts });
    if (res.status >= 300) throw new Error(`fuzz setup ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  private uniqueText(label: string) {
    return `${label} ${crypto.randomUUID()}: returns are accepted within thirty days of delivery.`;
  }

  /** Makes a new fixture for the path parameter `param` (after a DELETE consumed it). */
  async replenish(param: string): Promise<void> {
    switch (param) {
      case 'botId': {
        const bot = await this.asA('POST', '/api/v1/bots', { body: { name: 'fuzz bot' } });
        this.ids.botId = bot.id;
        // The old bot's sources and documents went with it.
        await this.replenish('sourceId');
        await this.replenish('documentId');
        return;
      }
      case 'sourceId': {
        const source = await this.asA('POST', `/api/v1/bots/${this.ids.botId}/sources`, { body: { type: 'text', title: 'fuzz source', text: this.uniqueText('source') } });
        this.ids.sourceId = source.id;
        return;
      }
      case 'documentId': {
        // A source of its own, so that deleting `sourceId` leaves the document in place.
        const source = await this.asA('POST', `/api/v1/bots/${this.ids.botId}/sources`, { body: { type: 'text', title: 'fuzz document', text: this.uniqueText('document') } });
        const docs = await this.asA('GET', `/api/v1/sources/${source.id}/documents`);
        this.ids.documentId = docs.data[0].id;
        return;
      }
      case 'keyId': {
        const key = await this.asA('POST', '/api/v1/api-keys', { body: { name: 'fuzz key', scopes: ['bots:read'] } });
        this.ids.keyId = key.id;
        return;
      }
      case 'invitationId':
      case 'token': {
        const invited = await invite(this.ownerA, this.ownerA.orgId, `fuzz-invitee-${crypto.randomUUID()}@example.com`, 'member');
        this.ids.invitationId = invited.invitationId;
        this.ids.token = invited.token;
        return;
      }
      case 'conversationId': {
        // Chat turns are another slice's; a conversation with messages is written as the pipeline writes it.
        const conversation = await seedConversation({ orgId: this.ownerA.orgId, botId: this.ids.botId!, title: 'fuzz conversation' }, [
          this.uniqueText('question'),
          this.uniqueText('answer'),
        ]);
        this.ids.conversationId = conversation.id;
        // The answer, so feedback routes aim at a message they can rate.
        this.ids.messageId = conversation.messageIds[1]!;
        return;
      }
      case 'webhookId':
      case 'deliveryId': {
        // An endpoint on the test site's receiver, and one delivery (its test event) to aim at.
        const hook = await this.asA('POST', '/api/v1/webhooks', { body: { url: 'http://localhost:11434/__receiver/fuzz', eventTypes: ['lead.created'] } });
        this.ids.webhookId = hook.id;
        const test = await this.asA('POST', `/api/v1/webhooks/${hook.id}/test`);
        this.ids.deliveryId = test.delivery.id;
        return;
      }
      case 'escalationId': {
        const ticket = await this.asA('POST', '/api/v1/escalations', { body: { title: 'fuzz ticket' } });
        this.ids.escalationId = ticket.id;
        return;
      }
      case 'actionId': {
        // Actions (issue #11): an http action against the test site's echo endpoint.
        const action = await this.asA('POST', '/api/v1/actions', {
          body: {
            name: `fuzz_${crypto.randomUUID().slice(0, 8)}`,
            description: 'A fuzzed action',
            type: 'http',
            parameters: { type: 'object', properties: { q: { type: 'string' } } },
            http: { method: 'GET', urlTemplate: 'https://fuzz.example.com/__action/echo/fuzz?q={{args.q}}', headers: {} },
            botIds: [this.ids.botId],
          },
        });
        this.ids.actionId = action.id;
        return;
      }
      case 'memberId': {
        const member = await joinAs(this.ownerA, this.ownerA.orgId, 'member', 'fuzz-member');
        this.ids.memberId = member.memberId;
        return;
      }
      case 'integrationId': {
        const integration = await this.asA('POST', '/api/v1/integrations', { body: { name: 'fuzz integration', action: 'knowledge.upsert', botId: this.ids.botId } });
        this.ids.integrationId = integration.id;
        return;
      }
    }
  }
}
