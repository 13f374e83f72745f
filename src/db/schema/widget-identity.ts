import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';
import { bots } from './bots';

/** An AES-GCM envelope as src/lib/secrets.ts writes it (key id, iv, ciphertext). */
export interface StoredSecretEnvelope {
  kid: string;
  iv: string;
  ct: string;
}

/**
 * A bot's identity-verification secret: the host signs its user ids with it (HMAC-SHA256) so the
 * widget can claim a verified user. One row per bot, made by the first rotation. Both secrets are
 * encrypted (tenant secrets, src/lib/secrets.ts); `previous` still verifies until
 * `previous_valid_until`, so a host can deploy a rotated secret without a gap.
 */
export const botIdentitySecrets = sqliteTable(
  'bot_identity_secrets',
  {
    botId: text('bot_id')
      .primaryKey()
      .references(() => bots.id, { onDelete: 'cascade' }),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    secret: text('secret', { mode: 'json' }).$type<StoredSecretEnvelope>().notNull(),
    previousSecret: text('previous_secret', { mode: 'json' }).$type<StoredSecretEnvelope>(),
    previousValidUntil: integer('previous_valid_until'),
    createdAt: integer('created_at').notNull(),
    /** When the current secret was made (the first one's creation, or the latest rotation). */
    rotatedAt: integer('rotated_at').notNull(),
  },
  (t) => [index('bot_identity_secrets_org_idx').on(t.orgId)],
);
