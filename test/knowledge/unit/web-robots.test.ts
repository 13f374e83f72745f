import { describe, expect, it } from 'vitest';
import { parseRobotsTxt, robotsPolicyWithoutFile } from '../../../src/features/knowledge/web/robots';

const ROBOTS = `\ufeff# example robots.txt
Disallow: /ignored-before-any-group

User-agent: *
Disallow: /private/
Allow: /private/public/
Disallow: /*.pdf$
Disallow: /search?q=
Disallow: /*/secret
Crawl-delay: 2

User-agent: KyroChatBot
User-Agent: other-bot
Disallow: /no-kyro/   # trailing comment
Allow: /

Sitemap: https://x.test/sitemap.xml
Sitemap: /sitemap-news.xml
`.replace(/\n/g, '\r\n');

describe('robots.txt', () => {
  const generic = parseRobotsTxt(ROBOTS, 'Mozilla/5.0 (compatible; SomeBot)', 'https://x.test/robots.txt');
  const kyro = parseRobotsTxt(ROBOTS, 'KyroChatBot/1.0 (+https://kyrochat.dev/bot)', 'https://x.test/robots.txt');

  it('applies the "*" group to crawlers without a group of their own', () => {
    expect(generic.isAllowed('/')).toBe(true);
    expect(generic.isAllowed('/private/keys')).toBe(false);
    expect(generic.isAllowed('/private')).toBe(true);
    expect(generic.isAllowed('/ignored-before-any-group')).toBe(true);
    expect(generic.crawlDelaySeconds).toBe(2);
  });

  it('lets the longest matching rule win', () => {
    expect(generic.isAllowed('/private/public/page')).toBe(true);
    expect(generic.isAllowed('https://x.test/private/public/page?x=1')).toBe(true);
  });

  it('supports * anywhere and $ at the end', () => {
    expect(generic.isAllowed('/files/report.pdf')).toBe(false);
    expect(generic.isAllowed('/files/report.pdf?download=1')).toBe(true);
    expect(generic.isAllowed('/files/report.pdfx')).toBe(true);
    expect(generic.isAllowed('/team/secret')).toBe(false);
    expect(generic.isAllowed('/secret')).toBe(true);
  });

  it('matches the query string too', () => {
    expect(generic.isAllowed('/search?q=pricing')).toBe(false);
    expect(generic.isAllowed('/search')).toBe(true);
  });

  it('picks the group of the product token, case-insensitively, ignoring "*"', () => {
    expect(kyro.isAllowed('/no-kyro/page')).toBe(false);
    expect(kyro.isAllowed('/private/keys')).toBe(true);
    expect(kyro.crawlDelaySeconds).toBeUndefined();
    expect(parseRobotsTxt(ROBOTS, 'OTHER-BOT').isAllowed('/no-kyro/')).toBe(false);
  });

  it('merges every group that names the crawler', () => {
    const policy = parseRobotsTxt('User-agent: kyrochatbot\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n\nUser-agent: KyroChatBot\nDisallow: /c', 'KyroChatBot');
    expect([policy.isAllowed('/a'), policy.isAllowed('/b'), policy.isAllowed('/c')]).toEqual([false, true, false]);
  });

  it('prefers allow when an allow and a disallow rule are equally long', () => {
    const policy = parseRobotsTxt('User-agent: *\nDisallow: /page\nAllow: /page', 'bot');
    expect(policy.isAllowed('/page')).toBe(true);
  });

  it('treats an empty Disallow as no rule and always allows /robots.txt', () => {
    expect(parseRobotsTxt('User-agent: *\nDisallow:', 'bot').isAllowed('/anything')).toBe(true);
    const closed = parseRobotsTxt('User-agent: *\nDisallow: /', 'bot');
    expect(closed.isAllowed('/anything')).toBe(false);
    expect(closed.isAllowed('/robots.txt')).toBe(true);
  });

  it('compares percent-encoded and raw non-ASCII paths alike', () => {
    const policy = parseRobotsTxt('User-agent: *\nDisallow: /café', 'bot');
    expect(policy.isAllowed('/caf%C3%A9/menu')).toBe(false);
    expect(policy.isAllowed('/caf%c3%a9')).toBe(false);
    expect(policy.isAllowed('https://x.test/café')).toBe(false);
    expect(policy.isAllowed('/cafe')).toBe(true);
  });

  it('collects sitemaps from anywhere in the file, resolving relative ones', () => {
    expect(generic.sitemaps).toEqual(['https://x.test/sitemap.xml', 'https://x.test/sitemap-news.xml']);
    expect(parseRobotsTxt('Sitemap: /relative.xml', 'bot').sitemaps).toEqual([]);
  });

  it('allows everything without a file (4xx) and nothing when unreachable (5xx)', () => {
    expect(robotsPolicyWithoutFile('unavailable').isAllowed('/x')).toBe(true);
    expect(robotsPolicyWithoutFile('unreachable').isAllowed('/x')).toBe(false);
  });
});
