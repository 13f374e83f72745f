/** Helpers for knowledge tests: wait for background jobs through the public API. */
import { env } from 'cloudflare:test';
import { vi } from 'vitest';
import { call } from './api';

export async function waitForSource(token: string, sourceId: string, until: string[] = ['ready', 'failed'], timeout = 20_000) {
  return vi.waitUntil(
    async () => {
      const res = await call('GET', `/api/v1/sources/${sourceId}`, { token });
      return until.includes(res.body?.status) ? res.body : null;
    },
    { timeout, interval: 100 },
  );
}

/** Waits until a deleted source's rows are gone from D1 (the purge job finished). */
export async function waitForPurge(sourceId: string, timeout = 20_000) {
  await vi.waitUntil(
    async () => !(await env.DB.prepare('SELECT 1 FROM sources WHERE id = ?').bind(sourceId).first()),
    { timeout, interval: 100 },
  );
}

export async function addText(token: string, botId: string, title: string, text: string) {
  const res = await call('POST', `/api/v1/bots/${botId}/sources`, { token, body: { type: 'text', title, text } });
  if (res.status !== 202) throw new Error(`add text failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; status: string };
}

export async function searchBot(token: string, botId: string, query: string, extra: Record<string, unknown> = {}) {
  const res = await call('POST', `/api/v1/bots/${botId}/search`, { token, body: { query, ...extra } });
  if (res.status !== 200) throw new Error(`search failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.results as { chunkId: string; text: string; score: number; relevance: number; document: { id: string; title: string }; source: { id: string } }[];
}

export async function countRows(sql: string, ...params: unknown[]) {
  const row = await env.DB.prepare(sql).bind(...params).first<{ n: number }>();
  return row?.n ?? 0;
}
