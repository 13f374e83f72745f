import { describe, expect, it } from 'vitest';
import { parseRobotsTxt, robotsPolicyWithoutFile } from '../../../src/features/knowledge/web/robots';
import { WILDCARD_MAX_PER_PATTERN } from '../../../src/limits';

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

  it('evaluates pathological wildcard rules against 50,000 URLs in well under a second', async () => {
    const policy = parseRobotsTxt('User-agent: *\nDisallow: /a*a*a*a*a*a*a*a*b\nAllow: /*a*a*a*a*a*a*a*a*c$\n', 'bot');
    const paths = Array.from({ length: 50_000 }, (_, i) => `/${'a'.repeat(30 + (i % 20))}`);
    const started = Date.now();
    let allowed = 0;
    for (const path of paths) if (policy.isAllowed(path)) allowed++;
    // Workers only advance the clock across I/O, so yield once before reading it again.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(allowed).toBe(50_000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(policy.isAllowed('/aaaaaaaab')).toBe(false);
  });

  it('cuts a Disallow rule over the wildcard cap (blocking more) and drops such an Allow rule', () => {
    const star = (n: number) => Array.from({ length: n + 1 }, (_, i) => `x${i}`).join('*');
    const over = WILDCARD_MAX_PER_PATTERN + 1;
    const disallow = parseRobotsTxt(`User-agent: *\nDisallow: /${star(over)}$`, 'bot');
    // The full rule matches only when every literal is there and the path ends with the last one.
    expect(disallow.isAllowed(`/${star(over)}`)).toBe(false);
    // Cut after WILDCARD_MAX_PER_PATTERN wildcards, it also blocks paths the full rule would not.
    expect(disallow.isAllowed(`/${star(WILDCARD_MAX_PER_PATTERN)}-and-more`)).toBe(false);
    expect(disallow.isAllowed('/x0-only')).toBe(true);

    const allow = parseRobotsTxt(`User-agent: *\nDisallow: /\nAllow: /${star(over)}`, 'bot');
    expect(allow.isAllowed(`/${star(over)}`)).toBe(false);
    const allowAtCap = parseRobotsTxt(`User-agent: *\nDisallow: /\nAllow: /${star(WILDCARD_MAX_PER_PATTERN)}`, 'bot');
    expect(allowAtCap.isAllowed(`/${star(WILDCARD_MAX_PER_PATTERN)}`)).toBe(true);
  });
});
