import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileWildcard, matchesWildcard, wildcardCount } from '../../../src/features/knowledge/web/wildcard';
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

describe('wildcard matcher', () => {
  const matches = (pattern: string, text: string, anchoredEnd = true) => matchesWildcard(compileWildcard(pattern, { anchoredEnd }), text);

  it('matches * as any run (even empty) and everything else literally', () => {
    expect(matches('/a*b*c', '/abc')).toBe(true);
    expect(matches('/a*b*c', '/a-x-b-y-c')).toBe(true);
    expect(matches('/a*b*c', '/a-x-c-y-b')).toBe(false);
    expect(matches('/a*a', '/a')).toBe(false);
    expect(matches('/a*a', '/aa')).toBe(true);
    expect(matches('*', '')).toBe(true);
    expect(matches('/x.y?(z)', '/x.y?(z)')).toBe(true);
    expect(matches('/x.y', '/xzy')).toBe(false);
    expect(matches('/docs', '/docs/more', false)).toBe(true);
    expect(matches('/docs', '/docs/more', true)).toBe(false);
    expect(matches('/*/secret', '/team/secret/x', false)).toBe(true);
  });

  it('counts a run of * as one wildcard', () => {
    expect(wildcardCount('/a**b***c')).toBe(2);
    expect(wildcardCount('/plain')).toBe(0);
    expect(matches('/a**b', '/ab')).toBe(true);
  });

  it('agrees with a reference matcher on random patterns and texts', () => {
    // Reference: the obvious exponential recursion, on inputs small enough for it.
    const reference = (p: string, t: string, anchored: boolean): boolean => {
      if (p === '') return !anchored || t === '' ? true : false;
      if (p[0] === '*') return [...Array(t.length + 1).keys()].some((i) => reference(p.slice(1), t.slice(i), anchored));
      return t[0] === p[0] && reference(p.slice(1), t.slice(1), anchored);
    };
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*]{0,8}$/), fc.stringMatching(/^[ab]{0,10}$/), fc.boolean(), (pattern, text, anchored) => {
        expect(matches(pattern, text, anchored)).toBe(reference(pattern, text, anchored));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches pathological globs against 50,000 URLs in well under a second', async () => {
    // Parsed up front, as the crawler hands the filter parsed URLs.
    const urls = Array.from({ length: 50_000 }, (_, i) => new URL(`https://x.io/${'a'.repeat(30 + (i % 20))}`));
    const filter = { include: ['/a*a*a*a*a*a*a*a*b', '*a*a*a*a*a*a*a*a*a*a*c'], exclude: ['/*a*a*a*a*a*a*a*a*a*b*'] };
    const started = Date.now();
    let kept = 0;
    for (const url of urls) if (passesUrlFilter(url, filter)) kept++;
    // Workers only advance the clock across I/O, so yield once before reading it again.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(kept).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
