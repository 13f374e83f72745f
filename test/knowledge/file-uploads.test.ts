import { SELF, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { BASE, call, createKey, expectProblem, register, type Account } from '../support/api';
import { countRows, searchBot, waitForSource } from '../support/knowledge';
import { buildDocx, buildDocxBomb, buildPdf, docx } from '../fixtures/documents';
import { EXTRACTION_DOCX_MAX_XML_BYTES } from '../../src/limits';

interface Part {
  name: string;
  type: string;
  bytes: Uint8Array | string;
}

async function upload(owner: Account, botId: string, parts: Part[], token = owner.token, extra: Record<string, string> = {}) {
  const form = new FormData();
  for (const p of parts) form.append('file', new File([p.bytes], p.name, { type: p.type }));
  for (const [k, v] of Object.entries(extra)) form.append(k, v);
  const res = await SELF.fetch(`${BASE}/api/v1/bots/${botId}/sources/files`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const CSV = 'sku,name,price\nA-100,Turbine widget,49.00\nB-200,"Quiet widget, deluxe",89.50\n';
const JSON_DOC = JSON.stringify({ shipping: { countries: 40, express: { days: 2, carrier: 'Northwind' } } });

describe('file uploads', () => {
  it('accepts every supported type, detects it from the bytes and makes it searchable', async () => {
    const owner = await register('upload');
    const res = await upload(owner, owner.botId, [
      { name: 'guide.md', type: 'text/markdown', bytes: '# Setup guide\n\nCalibrate the flux capacitor before first use.' },
      { name: 'notes.txt', type: 'text/plain', bytes: 'The warehouse in Rotterdam opens at seven.' },
      { name: 'prices.csv', type: 'text/csv', bytes: CSV },
      { name: 'shipping.json', type: 'application/json', bytes: JSON_DOC },
      { name: 'page.html', type: 'text/html', bytes: '<html><head><title>Returns</title></head><body><nav>Menu</nav><main><p>Returns are free for ninety days.</p></main></body></html>' },
      { name: 'manual.pdf', type: 'application/pdf', bytes: buildPdf([['Hydraulic pressure must stay under 300 bar.'], ['Service interval: every 500 hours.']]) },
      {
        name: 'policy.docx',
        type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        bytes: buildDocx(docx.paragraph('Travel policy', 'Heading1') + docx.paragraph('Economy class is required for flights under six hours.')),
      },
    ]);
    expect(res.status).toBe(202);
    expect(res.body.data.map((o: any) => o.status)).toEqual(Array(7).fill('created'));
    for (const outcome of res.body.data) {
      const ready = await waitForSource(owner.token, outcome.source.id);
      expect(ready.status, `${outcome.file}: ${ready.error}`).toBe('ready');
      expect(ready.type).toBe('file');
    }
    const expectations: [string, string][] = [
      ['calibrate flux capacitor', 'flux capacitor'],
      ['deluxe widget price', '89.50'],
      ['express shipping carrier', 'Northwind'],
      ['how long are returns free', 'ninety days'],
      ['hydraulic pressure limit', '300 bar'],
      ['flights under six hours', 'Economy class'],
    ];
    for (const [query, needle] of expectations) {
      const results = await searchBot(owner.token, owner.botId, query, { topK: 3 });
      expect(results.map((r) => r.text).join('\n'), query).toContain(needle);
    }
    // The original is kept and downloadable by id.
    const pdfSource = res.body.data.find((o: any) => o.file === 'manual.pdf').source.id;
    const docs = await call('GET', `/api/v1/sources/${pdfSource}/documents`, { token: owner.token });
    expect(docs.body.data[0]).toMatchObject({ fileName: 'manual.pdf', mime: 'application/pdf', status: 'ready' });
    const download = await SELF.fetch(`${BASE}/api/v1/documents/${docs.body.data[0].id}/download`, { headers: { authorization: `Bearer ${owner.token}` } });
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(download.headers.get('content-disposition')).toContain('manual.pdf');
    expect(new TextDecoder().decode(await download.arrayBuffer()).startsWith('%PDF-1.4')).toBe(true);
  });

  it('rejects a spoofed type, an unlisted type and an empty file with nothing stored', async () => {
    const owner = await register('upload-bad');
    const spoofed = await upload(owner, owner.botId, [
      { name: 'ok.txt', type: 'text/plain', bytes: 'fine' },
      { name: 'evil.pdf', type: 'application/pdf', bytes: 'MZ\x90\x00 this is an executable, not a PDF' },
    ]);
    expect(spoofed.status).toBe(415);
    expect(spoofed.body.code).toBe('unsupported_media_type');
    expect(spoofed.body.accepted).toEqual(expect.arrayContaining(['application/pdf', 'text/plain', 'text/csv']));
    expect(spoofed.body.detail).toContain('evil.pdf');

    const exe = await upload(owner, owner.botId, [{ name: 'tool.exe', type: 'application/x-msdownload', bytes: 'MZ' }]);
    expect(exe.status).toBe(415);
    const empty = await upload(owner, owner.botId, [{ name: 'empty.txt', type: 'text/plain', bytes: '' }]);
    expect(empty.status).toBe(400);
    expect(empty.body.code).toBe('empty_file');
    const none = await upload(owner, owner.botId, []);
    expect(none.status).toBe(400);
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(0);
    expect((await env.FILES.list({ prefix: `orgs/${owner.orgId}/` })).objects).toEqual([]);
  });

  it('records a corrupt PDF as a failed source with its reason', async () => {
    const owner = await register('upload-corrupt');
    const broken = new TextEncoder().encode('%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref');
    const res = await upload(owner, owner.botId, [{ name: 'broken.pdf', type: 'application/pdf', bytes: broken }]);
    expect(res.status).toBe(202);
    const failed = await waitForSource(owner.token, res.body.data[0].source.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toBeTruthy();
    const docs = await call('GET', `/api/v1/sources/${failed.id}/documents`, { token: owner.token });
    expect(docs.body.data[0]).toMatchObject({ status: 'failed' });
    expect(docs.body.data[0].error).toBe(failed.error);
  });

  it('records a .docx zip bomb as a failed document with the size-limit reason, without retrying it', async () => {
    const owner = await register('upload-bomb');
    const bomb = await buildDocxBomb(EXTRACTION_DOCX_MAX_XML_BYTES * 4, 2048);
    const res = await upload(owner, owner.botId, [{ name: 'bomb.docx', type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', bytes: bomb }]);
    expect(res.status).toBe(202);
    const failed = await waitForSource(owner.token, res.body.data[0].source.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain(`beyond the ${EXTRACTION_DOCX_MAX_XML_BYTES}-byte limit`);
    const docs = await call('GET', `/api/v1/sources/${failed.id}/documents`, { token: owner.token });
    expect(docs.body.data[0]).toMatchObject({ status: 'failed', chunks: 0 });
    expect(await countRows('SELECT attempts AS n FROM documents WHERE source_id = ?', failed.id)).toBe(1);
  });

  it('extracts a file once: later slices and a re-index after a chunking change read the stored text, not the original', async () => {
    const owner = await register('upload-once');
    const small = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { chunking: { strategy: 'recursive', chunkTokens: 64, overlapTokens: 0 } } });
    expect(small.status).toBe(200);
    const text = Array.from({ length: 1500 }, (_, i) => `Fact ${i}: widget ${i} is calibrated at ${i * 7} degrees in hall ${i % 13}.`).join('\n');
    const res = await upload(owner, owner.botId, [{ name: 'facts.txt', type: 'text/plain', bytes: text }]);
    const sourceId = res.body.data[0].source.id;
    const first = await waitForSource(owner.token, sourceId, ['ready', 'failed'], 60_000);
    expect(first.status).toBe('ready');
    expect(first.chunks).toBeGreaterThan(2 * 192); // three slices

    const doc = await env.DB.prepare('SELECT r2_key AS key FROM documents WHERE source_id = ?').bind(sourceId).first<{ key: string }>();
    const stored = await env.FILES.get(`${doc!.key}.text.json`);
    expect(stored).not.toBeNull();
    expect(JSON.parse(await stored!.text()).text).toContain('Fact 1499: widget 1499');

    // Without the original, only the stored text can feed the re-index (and all of its slices).
    await env.FILES.delete(doc!.key);
    const bigger = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { chunking: { strategy: 'recursive', chunkTokens: 96, overlapTokens: 0 } } });
    expect(bigger.status).toBe(200);
    const reindexed = await waitForSource(owner.token, sourceId, ['ready', 'failed'], 60_000);
    expect(reindexed.error).toBeNull();
    expect(reindexed.status).toBe('ready');
    expect(reindexed.chunks).toBeGreaterThan(192);
    expect(reindexed.chunks).toBeLessThan(first.chunks);
    const hits = await searchBot(owner.token, owner.botId, 'widget 1499 calibrated', { mode: 'keyword', topK: 3 });
    expect(hits.map((h) => h.text).join('\n')).toContain('Fact 1499');
  }, 120_000);

  it('reports the same file twice as a duplicate instead of ingesting it again', async () => {
    const owner = await register('upload-dup');
    const file = { name: 'a.txt', type: 'text/plain', bytes: 'Exactly the same bytes.' };
    const first = await upload(owner, owner.botId, [file]);
    const again = await upload(owner, owner.botId, [{ ...file, name: 'renamed.txt' }]);
    expect(again.status).toBe(202);
    expect(again.body.data[0]).toMatchObject({ status: 'duplicate', existingSourceId: first.body.data[0].source.id });
  });

  it('enforces the size limit and the role / scope / tenant rules', async () => {
    const owner = await register('upload-limits');
    const big = new Uint8Array(21 * 1024 * 1024).fill(0x61);
    const tooBig = await upload(owner, owner.botId, [{ name: 'big.txt', type: 'text/plain', bytes: big }]);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.code).toBe('payload_too_large');

    const readOnly = await createKey(owner, ['sources:read']);
    const denied = await upload(owner, owner.botId, [{ name: 'x.txt', type: 'text/plain', bytes: 'x' }], readOnly);
    expect(denied.status).toBe(403);

    const other = await register('upload-other');
    const foreign = await upload(other, owner.botId, [{ name: 'x.txt', type: 'text/plain', bytes: 'x' }]);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('bot_not_found');

    expectProblem(
      await call('POST', `/api/v1/bots/${owner.botId}/sources/files`, { token: owner.token, body: { file: 'not multipart' } }),
      415,
    );
  });
});
