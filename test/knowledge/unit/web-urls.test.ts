import { describe, expect, it } from 'vitest';
import { isSameOrigin, matchesUrlPattern, normalizeUrl, passesUrlFilter } from '../../../src/features/knowledge/web/urls';

describe('normalizeUrl', () => {
  it.each([
    ['HTTPS://Docs.Example.COM:443/a/./b/../c?b=2&a=1#frag', 'https://docs.example.com/a/c?b=2&a=1'],
    ['http://example.com:80/', 'http://example.com/'],
    ['http://example.com:8080/x', 'http://example.com:8080/x'],
    ['https://user:secret@example.com/private', 'https://example.com/private'],
    ['https://example.com/search?', 'https://example.com/search'],
    ['https://example.com/a b', 'https://example.com/a%20b'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeUrl(input)).toBe(expected);
  });

  it('resolves relative links against a base', () => {
    expect(normalizeUrl('../faq?x=1#top', 'https://example.com/docs/guide/intro')).toBe('https://example.com/docs/faq?x=1');
    expect(normalizeUrl('//cdn.example.com/x', 'https://example.com/')).toBe('https://cdn.example.com/x');
  });

  it('rejects what is not an http(s) URL', () => {
    for (const input of ['mailto:a@b.c', 'javascript:alert(1)', 'ftp://example.com/', 'not a url', '/relative-without-base', 'data:text/html,x']) {
      expect(normalizeUrl(input)).toBeNull();
    }
  });
});

describe('isSameOrigin', () => {
  it('compares scheme, host and port', () => {
    expect(isSameOrigin('https://example.com/a', 'https://EXAMPLE.com:443/b')).toBe(true);
    expect(isSameOrigin('https://example.com/', 'http://example.com/')).toBe(false);
    expect(isSameOrigin('https://example.com/', 'https://www.example.com/')).toBe(false);
    expect(isSameOrigin('https://example.com/', 'https://example.com:8443/')).toBe(false);
    expect(isSameOrigin('nonsense', 'https://example.com/')).toBe(false);
  });
});

describe('URL patterns', () => {
  it('matches path globs against the whole path', () => {
    expect(matchesUrlPattern('https://x.io/docs/a/b', '/docs/*')).toBe(true);
    expect(matchesUrlPattern('https://x.io/docs', '/docs/*')).toBe(false);
    expect(matchesUrlPattern('https://x.io/blog/docs/a', '/docs/*')).toBe(false);
    expect(matchesUrlPattern('https://x.io/files/report.pdf', '*.pdf')).toBe(true);
    expect(matchesUrlPattern('https://x.io/files/report.pdf?dl=1', '*.pdf')).toBe(true);
    expect(matchesUrlPattern('https://x.io/files/report.pdfx', '*.pdf')).toBe(false);
    expect(matchesUrlPattern('https://x.io/a.b/c', '/a?b/*')).toBe(false);
  });

  it('matches the query when the pattern has one, and whole URLs when it is one', () => {
    expect(matchesUrlPattern('https://x.io/list?page=2', '/list?page=*')).toBe(true);
    expect(matchesUrlPattern('https://x.io/list', '/list?page=*')).toBe(false);
    expect(matchesUrlPattern('https://x.io/docs/a', 'https://x.io/docs/*')).toBe(true);
    expect(matchesUrlPattern('https://y.io/docs/a', 'https://x.io/docs/*')).toBe(false);
  });

  it('includes by any include pattern and excludes by any exclude pattern', () => {
    const filter = { include: ['/docs/*', '/blog/*'], exclude: ['*.pdf', '/docs/legacy/*'] };
    expect(passesUrlFilter('https://x.io/docs/start', filter)).toBe(true);
    expect(passesUrlFilter('https://x.io/blog/post', filter)).toBe(true);
    expect(passesUrlFilter('https://x.io/pricing', filter)).toBe(false);
    expect(passesUrlFilter('https://x.io/docs/manual.pdf', filter)).toBe(false);
    expect(passesUrlFilter('https://x.io/docs/legacy/v1', filter)).toBe(false);
    expect(passesUrlFilter('https://x.io/anything', {})).toBe(true);
  });
});
