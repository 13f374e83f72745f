import { gzipSync, strToU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeSitemapBody, parseSitemap } from '../../../src/features/knowledge/web/sitemap';
import { SITEMAP_MAX_INFLATED_BYTES } from '../../../src/limits';
import { gzipBomb } from '../../fixtures/documents';

describe('sitemaps', () => {
  it('reads a urlset with namespaces, CDATA, entities and lastmod', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ns:urlset xmlns:ns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <ns:url><ns:loc>https://x.test/docs/a?x=1&amp;y=2</ns:loc><ns:lastmod>2026-01-02</ns:lastmod></ns:url>
  <ns:url><ns:loc><![CDATA[https://x.test/docs/b#section]]></ns:loc></ns:url>
  <ns:url><ns:loc>mailto:someone@x.test</ns:loc></ns:url>
</ns:urlset>`;
    expect(parseSitemap(xml)).toEqual({
      kind: 'urlset',
      truncated: false,
      entries: [{ url: 'https://x.test/docs/a?x=1&y=2', lastModified: '2026-01-02' }, { url: 'https://x.test/docs/b' }],
    });
  });

  it('reads a sitemap index', () => {
    const xml = '<sitemapindex><sitemap><loc>https://x.test/s1.xml</loc></sitemap><sitemap><loc> https://x.test/s2.xml </loc></sitemap></sitemapindex>';
    const sitemap = parseSitemap(xml);
    expect(sitemap.kind).toBe('sitemapindex');
    expect(sitemap.kind !== 'invalid' && sitemap.entries.map((entry) => entry.url)).toEqual(['https://x.test/s1.xml', 'https://x.test/s2.xml']);
  });

  it('reads a plain-text sitemap and rejects anything else', () => {
    expect(parseSitemap('https://x.test/a\r\nhttps://x.test/b\n')).toEqual({
      kind: 'urlset',
      truncated: false,
      entries: [{ url: 'https://x.test/a' }, { url: 'https://x.test/b' }],
    });
    expect(parseSitemap('<html><body>Not found</body></html>').kind).toBe('invalid');
    expect(parseSitemap('').kind).toBe('invalid');
  });

  it('inflates gzip bodies by their magic bytes', () => {
    const xml = '<urlset><url><loc>https://x.test/z</loc></url></urlset>';
    expect(decodeSitemapBody(gzipSync(strToU8(xml)))).toEqual({ ok: true, text: xml });
    expect(decodeSitemapBody(strToU8(xml))).toEqual({ ok: true, text: xml });
  });

  it('gives up on a gzip bomb as an invalid sitemap once the inflated size passes the cap', async () => {
    const bomb = await gzipBomb(SITEMAP_MAX_INFLATED_BYTES * 20);
    expect(bomb.byteLength).toBeLessThan(SITEMAP_MAX_INFLATED_BYTES / 20);
    const decoded = decodeSitemapBody(bomb);
    expect(decoded).toEqual({ ok: false, reason: `The sitemap inflates beyond ${SITEMAP_MAX_INFLATED_BYTES} bytes.` });
  });

  it('reports broken and truncated gzip as invalid instead of throwing', () => {
    const gz = gzipSync(strToU8('<urlset><url><loc>https://x.test/z</loc></url></urlset>'.repeat(50)));
    expect(decodeSitemapBody(gz.subarray(0, gz.length - 30))).toMatchObject({ ok: false });
    const broken = gz.slice();
    broken.fill(0xff, 10, 40);
    expect(decodeSitemapBody(broken)).toMatchObject({ ok: false });
  });
});
