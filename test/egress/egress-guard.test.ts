/**
 * The egress guard (src/egress): which URLs the Worker may connect to, and how guardedFetch
 * follows redirects, applies its deadline and caps responses. No network: requests go to an
 * in-test fetcher that records what reached it.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { checkUrl, EgressError, guardedFetch, parseAllowHost, PUBLIC_ONLY, type EgressFetcher, type EgressPolicy } from '../../src/egress';
import { parseIPv4 } from '../../src/egress/ipv4';
import { parseIPv6 } from '../../src/egress/ipv6';
import { parseConfig } from '../../src/env';

/** [url, allowed?] — every spelling of an internal address must be refused. */
const ADDRESSES: [string, boolean][] = [
  // Ordinary public hosts and addresses.
  ['https://example.com/', true],
  ['http://docs.acme.test/page', true],
  ['https://EXAMPLE.com./x', true],
  ['https://bücher.de/', true],
  ['http://8.8.8.8/', true],
  ['http://1.1.1.1:8080/', true],
  ['http://0x08.0x08.0x08.0x08/', true],
  ['http://134744072/', true],
  ['http://[2606:4700:4700::1111]/', true],
  ['http://[2a00:1450:4001:81c::200e]/', true],
  ['http://[::ffff:8.8.8.8]/', true],
  ['http://172.32.0.1/', true],
  ['http://100.128.0.1/', true],
  ['http://192.169.0.1/', true],
  ['http://11.0.0.1/', true],
  // Loopback in every IPv4 spelling.
  ['http://127.0.0.1/', false],
  ['http://127.255.255.254/', false],
  ['http://2130706433/', false],
  ['http://0x7f000001/', false],
  ['http://0x7f.1/', false],
  ['http://0177.0.0.1/', false],
  ['http://0177.1/', false],
  ['http://127.1/', false],
  ['http://127.0.1/', false],
  ['http://0x7f.0.0.1./', false],
  ['http://127.0.0.1../', false],
  ['http://１２７.０.０.１/', false],
  ['http://017700000001/', false],
  // The rest of the IPv4 special-purpose registry, multicast and reserved.
  ['http://0.0.0.0/', false],
  ['http://0/', false],
  ['http://10.0.0.1/', false],
  ['http://10.255.255.255/', false],
  ['http://100.64.0.1/', false],
  ['http://100.127.255.254/', false],
  ['http://169.254.169.254/latest/meta-data/', false],
  ['http://0xa9fea9fe/', false],
  ['http://2852039166/', false],
  ['http://172.16.0.1/', false],
  ['http://172.31.255.255/', false],
  ['http://192.0.0.8/', false],
  ['http://192.0.2.1/', false],
  ['http://192.88.99.1/', false],
  ['http://192.168.1.1/', false],
  ['http://0xc0.0xa8.1.1/', false],
  ['http://198.18.0.1/', false],
  ['http://198.19.255.255/', false],
  ['http://198.51.100.7/', false],
  ['http://203.0.113.9/', false],
  ['http://224.0.0.1/', false],
  ['http://239.255.255.250/', false],
  ['http://240.0.0.1/', false],
  ['http://255.255.255.255/', false],
  // IPv6: loopback, unspecified, and every way of carrying an internal IPv4 address.
  ['http://[::1]/', false],
  ['http://[0:0:0:0:0:0:0:1]/', false],
  ['http://[::]/', false],
  ['http://[::ffff:127.0.0.1]/', false],
  ['http://[::ffff:7f00:1]/', false],
  ['http://[::ffff:a9fe:a9fe]/', false],
  ['http://[::ffff:10.0.0.1]/', false],
  ['http://[::127.0.0.1]/', false],
  ['http://[::8.8.8.8]/', false],
  ['http://[64:ff9b::10.0.0.1]/', false],
  ['http://[64:ff9b::8.8.8.8]/', false],
  ['http://[64:ff9b:1::a00:1]/', false],
  ['http://[2002:7f00:1::]/', false],
  ['http://[2002:c0a8:101::1]/', false],
  ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', false],
  ['http://[2001:db8::1]/', false],
  ['http://[2001:2::1]/', false],
  ['http://[100::1]/', false],
  ['http://[3fff::1]/', false],
  ['http://[5f00::1]/', false],
  ['http://[fc00::1]/', false],
  ['http://[fd12:3456:789a::1]/', false],
  ['http://[fe80::1]/', false],
  ['http://[febf::1]/', false],
  ['http://[fec0::1]/', false],
  ['http://[ff02::1]/', false],
  ['http://[4000::1]/', false],
  // Internal names, in any case and with trailing dots.
  ['http://localhost/', false],
  ['http://localhost./', false],
  ['http://LOCALHOST../', false],
  ['http://ｌｏｃａｌｈｏｓｔ/', false],
  ['http://%6c%6fcalhost/', false],
  ['http://127.0.0.1%2e/', false],
  ['http://api.localhost/', false],
  ['http://printer.local/', false],
  ['http://metadata.google.internal/', false],
  ['http://router.home.arpa/', false],
  ['http://1.0.0.127.in-addr.arpa/', false],
  ['http://intranet/', false],
  ['http://nas.lan/', false],
  ['http://abc.onion/', false],
  // Not http(s), or credentials in the URL.
  ['ftp://example.com/', false],
  ['file:///etc/passwd', false],
  ['gopher://example.com/', false],
  ['https://user:pass@example.com/', false],
  ['https://user@example.com/', false],
  ['not a url', false],
];

describe('egress policy: which addresses may be fetched', () => {
  it(`answers a table of ${ADDRESSES.length} addresses, allowing only public hosts`, () => {
    expect(ADDRESSES.length).toBeGreaterThanOrEqual(60);
    const wrong = ADDRESSES.filter(([url, allowed]) => checkUrl(url, PUBLIC_ONLY).ok !== allowed);
    expect(wrong).toEqual([]);
  });

  it('says why, naming the range or the address an IPv6 form carries', () => {
    const reason = (url: string) => {
      const check = checkUrl(url, PUBLIC_ONLY);
      return check.ok ? null : check.refusal;
    };
    expect(reason('http://0x7f.1/')).toEqual({ code: 'special_address', reason: '127.0.0.1 is a loopback address.' });
    expect(reason('http://169.254.169.254/')?.reason).toContain('link-local');
    expect(reason('http://[::ffff:a9fe:a9fe]/')?.reason).toBe('[::ffff:a9fe:a9fe] is not a public address: IPv4-mapped 169.254.169.254 (link-local).');
    expect(reason('http://[0:0:0:0:0:0:0:1]/')?.reason).toBe('[::1] is not a public address: loopback.');
    expect(reason('http://[fe80:0:0:1:0:0:0:1]/')?.reason).toBe('[fe80:0:0:1::1] is not a public address: link-local.');
    expect(reason('http://[64:ff9b::10.0.0.1]/')?.reason).toContain('NAT64 (well-known prefix), embedding 10.0.0.1 (private-use)');
    expect(reason('http://[2002:c0a8:101::1]/')?.reason).toContain('6to4, embedding 192.168.1.1 (private-use)');
    // Teredo stores the client address inverted: 3fff:fdd2 → 192.0.2.45.
    expect(reason('http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/')?.reason).toContain('Teredo, embedding 192.0.2.45');
    expect(reason('http://localhost./')).toEqual({ code: 'internal_host', reason: '"localhost" is a single-label name; use a fully qualified public hostname.' });
    expect(reason('http://metadata.google.internal/')?.code).toBe('internal_host');
    expect(reason('https://u:p@example.com/')?.code).toBe('credentials');
    expect(reason('ftp://example.com/')?.code).toBe('scheme');
  });

  it('parses every IPv4 literal form, and rejects what is not one', () => {
    expect(parseIPv4('127.0.0.1')).toBe(0x7f000001);
    expect(parseIPv4('2130706433')).toBe(0x7f000001);
    expect(parseIPv4('0x7f.1')).toBe(0x7f000001);
    expect(parseIPv4('0177.0.0.01')).toBe(0x7f000001);
    expect(parseIPv4('127.1')).toBe(0x7f000001);
    expect(parseIPv4('10.1.2')).toBe(0x0a010002);
    expect(parseIPv4('0x7F.0X0.0.1.')).toBe(0x7f000001);
    expect(parseIPv4('0x')).toBe(0);
    // Any run of leading zeros still means octal, however long.
    expect(parseIPv4('0000000000000000000000177.0.0.1')).toBe(0x7f000001);
    expect(parseIPv4('4294967295')).toBe(0xffffffff);
    for (const bad of ['4294967296', '256.0.0.1', '1.2.3.4.5', '08.0.0.1', '0x1g.0.0.1', '1..2', '', 'example.com', '1.2.3.256', '1.16777216', '1.2.65536']) {
      expect(parseIPv4(bad), bad).toBeNull();
    }
  });

  it('parses every IPv6 form: compressed, embedded IPv4, brackets and zone ids', () => {
    const loopback = [0, 0, 0, 0, 0, 0, 0, 1];
    expect(parseIPv6('::1')).toEqual(loopback);
    expect(parseIPv6('[0:0:0:0:0:0:0:1]')).toEqual(loopback);
    expect(parseIPv6('0000:0000:0000:0000:0000:0000:0000:0001')).toEqual(loopback);
    expect(parseIPv6('::ffff:127.0.0.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
    expect(parseIPv6('::127.0.0.1')).toEqual([0, 0, 0, 0, 0, 0, 0x7f00, 1]);
    expect(parseIPv6('1:2:3:4:5:6:10.0.0.1')).toEqual([1, 2, 3, 4, 5, 6, 0x0a00, 1]);
    expect(parseIPv6('fe80::1%eth0')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('[fe80::1%25en0]')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '::ffff:1.2.3', '::ffff:256.0.0.1', 'g::1', ':1:2:3:4:5:6:7', 'fe80::1%', '1:2:3:4:5:6:7:8::', '127.0.0.1']) {
      expect(parseIPv6(bad), bad).toBeNull();
    }
  });
});

describe('egress policy: the operator allowlist', () => {
  const policy: EgressPolicy = { allowHosts: [parseAllowHost('localhost:8080')!, parseAllowHost('llama.internal')!, parseAllowHost('[::1]:9000')!] };

  it('lets allowlisted hosts through, on the listed port only when one is given', () => {
    expect(checkUrl('http://localhost:8080/v1', policy).ok).toBe(true);
    expect(checkUrl('http://LOCALHOST.:8080/v1', policy).ok).toBe(true);
    expect(checkUrl('http://localhost/v1', policy).ok).toBe(false);
    expect(checkUrl('http://localhost:8081/v1', policy).ok).toBe(false);
    expect(checkUrl('http://llama.internal/v1', policy).ok).toBe(true);
    expect(checkUrl('https://llama.internal:8443/v1', policy).ok).toBe(true);
    expect(checkUrl('http://other.internal/v1', policy).ok).toBe(false);
    expect(checkUrl('http://[::1]:9000/', policy).ok).toBe(true);
    expect(checkUrl('http://[::1]:9001/', policy).ok).toBe(false);
    // Allowlisting a host does not allow credentials or other schemes on it.
    expect(checkUrl('http://u:p@localhost:8080/', policy).ok).toBe(false);
    expect(checkUrl('ftp://llama.internal/', policy).ok).toBe(false);
  });

  it('is read from EGRESS_ALLOW_HOSTS, and a malformed entry is a configuration problem', () => {
    const ok = parseConfig({ ...env, EGRESS_ALLOW_HOSTS: ' localhost:8080 , LLAMA.Internal. ' });
    expect(ok.ok && ok.config.egress.allowHosts).toEqual([{ host: 'localhost', port: 8080 }, { host: 'llama.internal' }]);
    for (const entry of ['http://x/y', '*.internal', 'user@host', 'host:99999']) {
      const bad = parseConfig({ ...env, EGRESS_ALLOW_HOSTS: `localhost:8080,${entry}` });
      expect(bad.ok, entry).toBe(false);
      expect(!bad.ok && bad.problems.join(' '), entry).toContain(`"${entry}" is not a host or host:port`);
    }
  });
});

interface Sent {
  url: string;
  method: string;
  body: string;
  authorization: string | null;
}

/** A fetcher answering from a route table and recording every request that reached it. */
function fakeNetwork(routes: Record<string, (req: Request) => Response | Promise<Response>>) {
  const sent: Sent[] = [];
  const fetcher: EgressFetcher = async (url, init) => {
    const req = new Request(url, init);
    sent.push({ url, method: req.method, body: await req.text(), authorization: req.headers.get('authorization') });
    const route = routes[url];
    return route ? route(new Request(url, init)) : new Response('not found', { status: 404 });
  };
  return { fetcher, sent };
}

const redirect = (location: string, status = 302) => () => new Response(null, { status, headers: { location } });

async function egressError(promise: Promise<unknown>): Promise<EgressError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EgressError);
  return error as EgressError;
}

describe('guardedFetch', () => {
  it('refuses a URL before any fetcher sees it', async () => {
    const net = fakeNetwork({});
    const error = await egressError(guardedFetch('http://169.254.169.254/latest', {}, { policy: PUBLIC_ONLY, fetcher: net.fetcher }));
    expect(error.code).toBe('egress_refused');
    expect(error.refusal?.code).toBe('special_address');
    expect(net.sent).toEqual([]);
  });

  it('re-checks every redirect hop: a public page redirecting to 127.0.0.1 or to an IPv4-mapped metadata address is refused', async () => {
    for (const target of ['http://127.0.0.1/admin', 'http://[::ffff:a9fe:a9fe]/', 'http://localhost./', '/\\/0x7f.1/']) {
      const net = fakeNetwork({ 'https://public.example/start': redirect(target), 'https://public.example/hop': redirect(target) });
      const error = await egressError(guardedFetch('https://public.example/start', {}, { policy: PUBLIC_ONLY, fetcher: net.fetcher }));
      expect(error.code, target).toBe('egress_refused');
      expect(net.sent.map((s) => s.url), target).toEqual(['https://public.example/start']);
    }
  });

  it('follows allowed redirects to the final URL, and stops after the hop limit', async () => {
    const net = fakeNetwork({
      'https://a.example/1': redirect('/2', 301),
      'https://a.example/2': redirect('https://b.example/3', 308),
      'https://b.example/3': () => new Response('done'),
    });
    const { response, url } = await guardedFetch('https://a.example/1', {}, { policy: PUBLIC_ONLY, fetcher: net.fetcher });
    expect(await response.text()).toBe('done');
    expect(url.toString()).toBe('https://b.example/3');

    const loop = fakeNetwork({ 'https://loop.example/': redirect('https://loop.example/') });
    const error = await egressError(guardedFetch('https://loop.example/', {}, { policy: PUBLIC_ONLY, fetcher: loop.fetcher, maxRedirects: 3 }));
    expect(error.code).toBe('egress_too_many_redirects');
    expect(loop.sent).toHaveLength(4);
  });

  it('turns a POST into a bodiless GET on 303, repeats it on 307, and drops Authorization across origins', async () => {
    const net = fakeNetwork({
      'https://api.example/see-other': redirect('https://api.example/result', 303),
      'https://api.example/result': () => new Response('ok'),
      'https://api.example/temporary': redirect('https://api.example/again', 307),
      'https://api.example/again': redirect('https://elsewhere.example/again', 307),
      'https://elsewhere.example/again': () => new Response('ok'),
    });
    const init = { method: 'POST', body: '{"x":1}', headers: { authorization: 'Bearer sk-secret', 'content-type': 'application/json' } };
    await (await guardedFetch('https://api.example/see-other', init, { policy: PUBLIC_ONLY, fetcher: net.fetcher })).response.text();
    await (await guardedFetch('https://api.example/temporary', init, { policy: PUBLIC_ONLY, fetcher: net.fetcher })).response.text();
    expect(net.sent).toEqual([
      { url: 'https://api.example/see-other', method: 'POST', body: '{"x":1}', authorization: 'Bearer sk-secret' },
      { url: 'https://api.example/result', method: 'GET', body: '', authorization: 'Bearer sk-secret' },
      { url: 'https://api.example/temporary', method: 'POST', body: '{"x":1}', authorization: 'Bearer sk-secret' },
      { url: 'https://api.example/again', method: 'POST', body: '{"x":1}', authorization: 'Bearer sk-secret' },
      { url: 'https://elsewhere.example/again', method: 'POST', body: '{"x":1}', authorization: null },
    ]);
  });

  it('lets the caller refuse a redirect (a crawl stays on its site)', async () => {
    const net = fakeNetwork({ 'https://site.example/': redirect('https://other.example/') });
    const error = await egressError(
      guardedFetch('https://site.example/', {}, { policy: PUBLIC_ONLY, fetcher: net.fetcher, allowRedirect: (to, from) => to.origin === from.origin }),
    );
    expect(error.code).toBe('egress_redirect_refused');
    expect(net.sent).toHaveLength(1);
  });

  it('fails with egress_timeout when the answer does not come in time', async () => {
    const never: EgressFetcher = (_url, init) =>
      new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true }));
    const error = await egressError(guardedFetch('https://slow.example/', {}, { policy: PUBLIC_ONLY, fetcher: never, timeoutMs: 20 }));
    expect(error.code).toBe('egress_timeout');
    expect(error.permanent).toBe(false);
  });

  it('caps the response: a declared length over the cap fails at once, a longer stream fails while read', async () => {
    const declared = fakeNetwork({ 'https://big.example/': () => new Response('x'.repeat(100), { headers: { 'content-length': '100' } }) });
    expect((await egressError(guardedFetch('https://big.example/', {}, { policy: PUBLIC_ONLY, fetcher: declared.fetcher, maxBytes: 10 }))).code).toBe(
      'egress_response_too_large',
    );

    const streamed = fakeNetwork({
      'https://big.example/': () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              controller.enqueue(new Uint8Array(8));
            },
          }),
        ),
    });
    const { response } = await guardedFetch('https://big.example/', {}, { policy: PUBLIC_ONLY, fetcher: streamed.fetcher, maxBytes: 64 });
    expect((await egressError(response.arrayBuffer())).code).toBe('egress_response_too_large');

    const small = fakeNetwork({ 'https://small.example/': () => new Response('12345') });
    const ok = await guardedFetch('https://small.example/', {}, { policy: PUBLIC_ONLY, fetcher: small.fetcher, maxBytes: 5 });
    expect(await ok.response.text()).toBe('12345');
  });
});
