import { R2_LIST_MAX_KEYS } from '../../limits';

/** Where knowledge originals live in R2: one prefix per source, so a purge is a prefix walk. */
export const sourcePrefix = (orgId: string, botId: string, sourceId: string) => `orgs/${orgId}/bots/${botId}/sources/${sourceId}/`;

export const originalKey = (doc: { orgId: string; botId: string; sourceId: string; id: string }) =>
  `${sourcePrefix(doc.orgId, doc.botId, doc.sourceId)}${doc.id}`;

/** Deletes every object under a prefix, 1000 keys per call (R2's list page size). */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: R2_LIST_MAX_KEYS });
    const keys = page.objects.map((o) => o.key);
    if (keys.length > 0) await bucket.delete(keys);
    deleted += keys.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}
