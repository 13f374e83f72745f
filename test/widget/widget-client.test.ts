/**
 * The embeddable widget's pure pieces (widget/src), run in the Workers pool: the event-stream
 * parser, the safe markdown subset, per-bot storage, language choice, lead checks, colours,
 * action confirmations (reading, summarizing, refusals), and the API client's session,
 * idempotency and decision handling against a scripted fetch. The DOM builder
 * and the UI are exercised by the browser tests (test/e2e).
 */
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../widget/src/sse';
import { parseMarkdown, parseInline, safeHref, type Block, type Inline } from '../../widget/src/markdown';
import { parseState, storageKey, VisitorStore, type KeyValueStore } from '../../widget/src/storage';
import { pickLang, STRINGS } from '../../widget/src/i18n';
import { leadFieldProblem } from '../../widget/src/lead';
import { contrast, textOn } from '../../widget/src/theme';
import { CSS } from '../../widget/src/styles';
import { WidgetApi, WidgetError, type ChatHandlers } from '../../widget/src/api';
import { oneLine, readConfirmation, refusalOf, summarizeArguments } from '../../widget/src/confirm';
import { WIDGET_CLIENT } from '../../src/limits';

const feedAll = (parser: SseParser, chunks: (string | Uint8Array)[]): SseEvent[] => [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];

describe('SSE stream parser', () => {
  const stream = 'event: meta\r\ndata: {"conversationId":"cnv_1"}\r\n\r\n: keep-alive comment\n\nevent: token\ndata: {"text":"Grüße 👋"}\n\nevent: done\rdata: line one\rdata: line two\r\r';
  const expected: SseEvent[] = [
    { event: 'meta', data: '{"conversationId":"cnv_1"}' },
    { event: 'token', data: '{"text":"Grüße 👋"}' },
    { event: 'done', data: 'line one\nline two' },
  ];

  it('parses CRLF, LF and CR line ends, skips comments and joins multi-line data', () => {
    expect(feedAll(new SseParser(), [stream])).toEqual(expected);
  });

  it('gives the same events however the bytes are split (inside lines, between CR and LF, inside UTF-8 characters)', () => {
    const bytes = new TextEncoder().encode(stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(feedAll(new SseParser(), [bytes.slice(0, cut), bytes.slice(cut)]), `cut at ${cut}`).toEqual(expected);
    }
    const oneByOne = Array.from(bytes, (b) => new Uint8Array([b]));
    expect(feedAll(new SseParser(), oneByOne)).toEqual(expected);
  });

  it('defaults the event name to message, keeps the id, strips a BOM, drops events without data and an unterminated last event', () => {
    const events = feedAll(new SseParser(), ['\uFEFFid: 7\ndata: a\n\nevent: empty\n\ndata:no-space\nunknown: x\n\ndata: cut off']);
    expect(events).toEqual([
      { event: 'message', data: 'a', id: '7' },
      { event: 'message', data: 'no-space', id: '7' },
    ]);
  });

  it('drops a line longer than its bound and recovers at the next event', () => {
    const parser = new SseParser(100);
    const events = feedAll(parser, ['data: ', 'x'.repeat(80), 'y'.repeat(80), '\n\n', 'event: token\ndata: ok\n\n']);
    expect(events).toEqual([{ event: 'token', data: 'ok' }]);
  });

  it('drops an event whose data lines together exceed the bound', () => {
    const lines = Array.from({ length: 20 }, () => `data: ${'z'.repeat(10)}\n`).join('');
    expect(feedAll(new SseParser(100), [lines, '\n', 'data: next\n\n'])).toEqual([{ event: 'message', data: 'next' }]);
  });
});

/** Every text leaf of a tree, in order (what a reader sees, minus structure). */
function texts(nodes: (Block | Inline)[]): string {
  let out = '';
  for (const node of nodes) {
    switch (node.t) {
      case 'text':
      case 'code':
        out += node.v;
        break;
      case 'pre':
        out += node.v;
        break;
      case 'br':
        out += '\n';
        break;
      case 'cite':
        out += `[${node.n}]`;
        break;
      case 'ul':
      case 'ol':
        out += node.items.map((item) => texts(item)).join('|');
        break;
      default:
        out += texts(node.c);
    }
  }
  return out;
}

function depth(nodes: Inline[]): number {
  return Math.max(0, ...nodes.map((n) => (n.t === 'strong' || n.t === 'em' || n.t === 'link' ? 1 + depth(n.c) : 0)));
}

describe('safe markdown subset', () => {
  it('builds paragraphs, headings, bold, italic, inline code and line breaks', () => {
    expect(parseMarkdown('# Title ##\nFirst **bold** and *it* and _em_ and `x < y`\nnext line\n\nSecond')).toEqual([
      { t: 'h', c: [{ t: 'text', v: 'Title' }] },
      {
        t: 'p',
        c: [
          { t: 'text', v: 'First ' },
          { t: 'strong', c: [{ t: 'text', v: 'bold' }] },
          { t: 'text', v: ' and ' },
          { t: 'em', c: [{ t: 'text', v: 'it' }] },
          { t: 'text', v: ' and ' },
          { t: 'em', c: [{ t: 'text', v: 'em' }] },
          { t: 'text', v: ' and ' },
          { t: 'code', v: 'x < y' },
          { t: 'br' },
          { t: 'text', v: 'next line' },
        ],
      },
      { t: 'p', c: [{ t: 'text', v: 'Second' }] },
    ]);
  });

  it('nests emphasis properly and leaves snake_case and unmatched markers as text', () => {
    expect(parseInline('**a *b* c**')).toEqual([{ t: 'strong', c: [{ t: 'text', v: 'a ' }, { t: 'em', c: [{ t: 'text', v: 'b' }] }, { t: 'text', v: ' c' }] }]);
    expect(parseInline('***both***')).toEqual([{ t: 'strong', c: [{ t: 'em', c: [{ t: 'text', v: 'both' }] }] }]);
    expect(parseInline('snake_case_name and 2 * 3 * 4')).toEqual([{ t: 'text', v: 'snake_case_name and 2 * 3 * 4' }]);
    expect(parseInline('**open only')).toEqual([{ t: 'text', v: '**open only' }]);
    expect(parseInline('*a **b* c**')).toEqual([{ t: 'em', c: [{ t: 'text', v: 'a **b' }] }, { t: 'text', v: ' c**' }]);
  });

  it('builds bullet and numbered lists with their start number and continuation lines', () => {
    expect(parseMarkdown('- one\n- two\n  more\n\n3. three\n4. four')).toEqual([
      { t: 'ul', items: [[{ t: 'text', v: 'one' }], [{ t: 'text', v: 'two' }, { t: 'br' }, { t: 'text', v: 'more' }]] },
      { t: 'ol', start: 3, items: [[{ t: 'text', v: 'three' }], [{ t: 'text', v: 'four' }]] },
    ]);
  });

  it('keeps code blocks verbatim with their language, and runs an unclosed fence to the end', () => {
    expect(parseMarkdown('```ts\nconst a = **1**;\n<b>x</b>\n```\nafter')).toEqual([
      { t: 'pre', v: 'const a = **1**;\n<b>x</b>', lang: 'ts' },
      { t: 'p', c: [{ t: 'text', v: 'after' }] },
    ]);
    expect(parseMarkdown('text\n~~~\nstill *code*\n\nto the end')).toEqual([
      { t: 'p', c: [{ t: 'text', v: 'text' }] },
      { t: 'pre', v: 'still *code*\n\nto the end', lang: '' },
    ]);
  });

  it('turns [n] into citation markers and http(s)/mailto links (markdown and bare) into links', () => {
    expect(parseInline('See [1][2] and [docs](https://example.com/a?b=1) or mail [us](mailto:hi@example.com), https://example.org/x.')).toEqual([
      { t: 'text', v: 'See ' },
      { t: 'cite', n: 1 },
      { t: 'cite', n: 2 },
      { t: 'text', v: ' and ' },
      { t: 'link', href: 'https://example.com/a?b=1', c: [{ t: 'text', v: 'docs' }] },
      { t: 'text', v: ' or mail ' },
      { t: 'link', href: 'mailto:hi@example.com', c: [{ t: 'text', v: 'us' }] },
      { t: 'text', v: ', ' },
      { t: 'link', href: 'https://example.org/x', c: [{ t: 'text', v: 'https://example.org/x' }] },
      { t: 'text', v: '.' },
    ]);
  });

  it('keeps raw HTML as literal text: <img src=x onerror=alert(1)> is one text node', () => {
    const hostile = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    expect(parseMarkdown(hostile)).toEqual([{ t: 'p', c: [{ t: 't' + 'ext', v: hostile }] }]);
  });

  it('drops the link but keeps the label for javascript:, data:, vbscript:, relative and obfuscated URLs', () => {
    for (const url of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:msgbox', '/relative', '//evil.example/x', 'javascript&#58;alert(1)', 'https://exa mple.com']) {
      const nodes = parseInline(`[click](${url})`);
      expect(nodes.some((n) => n.t === 'link'), url).toBe(false);
      // The label stays readable (a ")" inside the URL may end it early, as plain text).
      expect(texts(nodes).startsWith('click'), url).toBe(true);
      expect(safeHref(url), url).toBeNull();
    }
    expect(parseInline('javascript:alert(1)')).toEqual([{ t: 'text', v: 'javascript:alert(1)' }]);
    expect(safeHref('HTTPS://Example.com/x')).toBe('https://example.com/x');
  });

  it('bounds emphasis nesting depth however deep the markers go', () => {
    const deep = '*_'.repeat(500) + 'core' + '_*'.repeat(500);
    const [block] = parseMarkdown(deep);
    expect(block!.t).toBe('p');
    expect(depth((block as { c: Inline[] }).c)).toBeLessThanOrEqual(WIDGET_CLIENT.emphasisMaxDepth);
  });

  it('parses the longest allowed pathological inputs (runs of delimiters, brackets, backticks, URLs) and loses no letter or digit', () => {
    const n = WIDGET_CLIENT.markdownMaxChars;
    const alnum = (s: string) => s.replace(/[^a-z0-9]/gi, '').length;
    for (const unit of ['*a', '**b', '[x', '[1', '`', '``c', '_d', '](e', 'http://', '\\f', '<i>', '*_g', '# h\n', '- i\n', '```\nj\n']) {
      const input = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
      expect(alnum(texts(parseMarkdown(input))), JSON.stringify(unit)).toBe(alnum(input));
    }
  });

  it('shows text beyond the parse limit as one plain paragraph, unparsed', () => {
    const tail = '**not bold** <b>';
    const blocks = parseMarkdown('a'.repeat(100) + tail, 100);
    expect(blocks).toEqual([
      { t: 'p', c: [{ t: 'text', v: 'a'.repeat(100) }] },
      { t: 'p', c: [{ t: 'text', v: tail }] },
    ]);
  });
});

/** A Storage stand-in: a map, or one that throws on every call (private mode, sandboxed frames, quota). */
class FakeStorage implements KeyValueStore {
  map = new Map<string, string>();
  constructor(private readonly fail: { get?: boolean; set?: boolean } = {}) {}
  getItem(key: string) {
    if (this.fail.get) throw new DOMException('denied', 'SecurityError');
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    if (this.fail.set) throw new DOMException('full', 'QuotaExceededError');
    this.map.set(key, value);
  }
  removeItem(key: string) {
    this.map.delete(key);
  }
}

describe('visitor storage', () => {
  it('keeps visitorId and conversationId under kyrochat:<botId> across a reload (a new store on the same storage)', () => {
    const storage = new FakeStorage();
    new VisitorStore('bot_A', storage).update({ visitorId: 'vis_01ABC', conversationId: 'cnv_01XYZ' });
    expect(JSON.parse(storage.map.get('kyrochat:bot_A')!)).toEqual({ visitorId: 'vis_01ABC', conversationId: 'cnv_01XYZ' });
    expect(new VisitorStore('bot_A', storage).get()).toEqual({ visitorId: 'vis_01ABC', conversationId: 'cnv_01XYZ' });
    expect(new VisitorStore('bot_B', storage).get()).toEqual({});
    expect(storageKey('bot_A')).toBe('kyrochat:bot_A');
  });

  it('removes a field set to undefined', () => {
    const storage = new FakeStorage();
    const store = new VisitorStore('bot_A', storage);
    store.update({ visitorId: 'vis_1', conversationId: 'cnv_1' });
    store.update({ conversationId: undefined });
    expect(new VisitorStore('bot_A', storage).get()).toEqual({ visitorId: 'vis_1' });
  });

  it('works from memory when storage throws on read and write, or is absent', () => {
    for (const backing of [new FakeStorage({ get: true, set: true }), new FakeStorage({ set: true }), null]) {
      const store = new VisitorStore('bot_A', backing);
      expect(store.get()).toEqual({});
      store.update({ visitorId: 'vis_1' });
      expect(store.get()).toEqual({ visitorId: 'vis_1' });
    }
  });

  it('ignores corrupt, oversized or ill-typed stored values', () => {
    for (const raw of ['{', 'null', '[]', '"x"', '{"visitorId":42}', '{"visitorId":"<script>"}', `{"visitorId":"vis_${'a'.repeat(2000)}"}`, '{"conversationId":"cnv_1 OR 1=1"}']) {
      expect(parseState(raw), raw).toEqual({});
    }
    expect(parseState('{"visitorId":"vis_1","conversationId":"cnv_2","leadDone":true,"other":1}')).toEqual({ visitorId: 'vis_1', conversationId: 'cnv_2', leadDone: true });
  });
});

describe('language, lead checks and colours', () => {
  it('picks data-lang, then the config (unless auto), then the browser, then English', () => {
    expect(pickLang('de', 'en', ['en-US'])).toBe('de');
    expect(pickLang(null, 'de', ['en-US'])).toBe('de');
    expect(pickLang(undefined, 'auto', ['fr-FR', 'de-AT'])).toBe('de');
    expect(pickLang('xx', 'auto', ['fr'])).toBe('en');
    expect(STRINGS.de.open).toBe('Chat öffnen');
    expect(Object.keys(STRINGS.de).sort()).toEqual(Object.keys(STRINGS.en).sort());
  });

  it('checks lead fields like the server: required, email shape, international phone', () => {
    const t = STRINGS.en;
    expect(leadFieldProblem('name', '', true, t)).toBe(t.required);
    expect(leadFieldProblem('name', '', false, t)).toBeNull();
    expect(leadFieldProblem('email', 'ada@example.com', true, t)).toBeNull();
    for (const bad of ['ada', 'ada@', '@example.com', 'ada@example', 'a b@example.com']) expect(leadFieldProblem('email', bad, false, t), bad).toBe(t.invalidEmail);
    expect(leadFieldProblem('phone', '+49 (30) 123-4567', true, t)).toBeNull();
    for (const bad of ['030 1234567', '+12', '+1234567890123456', `+${'1'.repeat(70)}`]) expect(leadFieldProblem('phone', bad, false, t), bad).toBe(t.invalidPhone);
  });

  it('puts white or near-black text on the brand colour, whichever contrasts more', () => {
    expect(textOn('#2563eb')).toBe('#ffffff');
    expect(textOn('#facc15')).toBe('#111111');
    for (const brand of ['#000000', '#ffffff', '#0f766e', '#f97316', '#7c3aed']) {
      const chosen = contrast(brand, textOn(brand));
      expect(chosen).toBeGreaterThanOrEqual(Math.max(contrast(brand, '#ffffff'), contrast(brand, '#111111')));
    }
  });

  it('meets WCAG AA (4.5:1) for every text colour on its background in the light and dark palettes', () => {
    const palette = (selector: string) => {
      const block = new RegExp(`${selector.replace('.', '\\.')}\\{([^}]*)\\}`).exec(CSS)![1]!;
      return Object.fromEntries([...block.matchAll(/--kc-([a-z-]+):(#[0-9a-f]{6})/g)].map((m) => [m[1]!, m[2]!]));
    };
    for (const colours of [palette('.kc-root'), palette('.kc-dark')]) {
      for (const [fg, bg] of [['fg', 'bg'], ['muted', 'bg'], ['fg', 'bubble'], ['muted', 'bubble'], ['err', 'err-bg'], ['ring', 'bg']] as const) {
        // Focus rings are non-text (3:1, WCAG 1.4.11); everything else is text (4.5:1).
        expect(contrast(colours[fg]!, colours[bg]!), `${fg} on ${bg}`).toBeGreaterThanOrEqual(fg === 'ring' ? 3 : 4.5);
      }
    }
  });
});

/** A scripted fetch: records each request and answers from the handler. */
function scripted(handler: (url: string, init: RequestInit, n: number) => Response) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = async (url: string, init: RequestInit = {}) => {
    calls.push({ url, init });
    return handler(url, init, calls.length);
  };
  return { calls, fetch };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' } });
const sessionBody = (n: number, expiresAt: number) => ({ token: `tok${n}`, expiresAt: new Date(expiresAt).toISOString(), visitorId: 'vis_01AAA', verified: false });
const header = (init: RequestInit, name: string) => (init.headers as Record<string, string>)[name];
const noHandlers: ChatHandlers = { meta() {}, token() {}, citations() {}, done() {}, confirmation() {}, paused() {} };
/** Handlers that write down what they were handed, in order. */
const recording = (seen: string[]): ChatHandlers => ({
  meta: (m) => seen.push(`meta:${m.conversationId}`),
  token: (t) => seen.push(`token:${t}`),
  citations: (c) => seen.push(`citations:${c.length}`),
  done: (m) => seen.push(`done:${m.id}`),
  confirmation: (c) => seen.push(`confirmation:${c.confirmationId}:${c.action}:${JSON.stringify(c.arguments)}`),
  paused: (reason) => seen.push(`paused:${reason}`),
});

describe('widget API client', () => {
  const sse = (events: [string, unknown][]) =>
    new Response(events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join(''), { headers: { 'content-type': 'text/event-stream' } });
  const answer = () =>
    sse([
      ['meta', { conversationId: 'cnv_01C', userMessageId: 'msg_1', assistantMessageId: 'msg_2' }],
      ['token', { text: 'Hel' }],
      ['token', { text: 'lo [1]' }],
      ['citations', { citations: [{ n: 1, title: 'Doc', url: 'https://docs.example/a' }] }],
      ['done', { id: 'msg_2', conversationId: 'cnv_01C', role: 'assistant', content: 'Hello [1]', citations: [] }],
    ]);

  it('keeps the session token, and renews it shortly before it expires', async () => {
    let now = 1_000_000;
    const ttl = 3_600_000;
    const { calls, fetch } = scripted((url, _init, n) => (url.endsWith('/session') ? json(sessionBody(n, now + ttl)) : json({ data: [] })));
    const store = new VisitorStore('bot_A', null);
    const api = new WidgetApi('https://kc.example', 'bot_A', store, fetch, () => now);
    await api.latestConversation();
    await api.latestConversation();
    expect(calls.map((c) => c.url.split('/bot_A/')[1])).toEqual(['session', 'conversations?limit=1', 'conversations?limit=1']);
    expect(header(calls[2]!.init, 'authorization')).toBe('Bearer tok1');
    now += ttl - WIDGET_CLIENT.tokenRenewBeforeMs; // inside the renewal window
    await api.latestConversation();
    expect(calls.map((c) => c.url.split('/bot_A/')[1]).slice(3)).toEqual(['session', 'conversations?limit=1']);
    expect(header(calls[4]!.init, 'authorization')).toBe('Bearer tok4');
    // The second session asked for the same visitor id the first one returned.
    expect(JSON.parse(String(calls[3]!.init.body))).toEqual({ visitorId: 'vis_01AAA' });
    expect(store.get().visitorId).toBe('vis_01AAA');
  });

  it('sends the identity with the session identify() opens, and with every renewal after it', async () => {
    let now = 1_000_000;
    const { calls, fetch } = scripted((url, _init, n) => (url.endsWith('/session') ? json(sessionBody(n, now + 3_600_000)) : json({ data: [] })));
    const api = new WidgetApi('https://kc.example', 'bot_A', new VisitorStore('bot_A', null), fetch, () => now);
    const identity = { userId: 'u_42', hash: 'ab'.repeat(32) };
    await api.openSession(identity);
    now += 3_600_000;
    await api.latestConversation();
    const sessions = calls.filter((c) => c.url.endsWith('/session')).map((c) => JSON.parse(String(c.init.body)));
    expect(sessions).toEqual([{ identity }, { visitorId: 'vis_01AAA', identity }]);
  });

  it('sends a fresh Idempotency-Key per message, and the same one when a 401 forces a new session and a retry', async () => {
    let chats = 0;
    const { calls, fetch } = scripted((url, _init, n) => {
      if (url.endsWith('/session')) return json(sessionBody(n, Date.now() + 3_600_000));
      chats++;
      return chats === 2 ? json({ status: 401, code: 'token_expired', detail: 'expired' }, 401) : answer();
    });
    const api = new WidgetApi('https://kc.example', 'bot_A', new VisitorStore('bot_A', null), fetch);
    await api.chat('first', undefined, noHandlers);
    await api.chat('second', 'cnv_01C', noHandlers);
    const chatCalls = calls.filter((c) => c.url.endsWith('/chat'));
    const keys = chatCalls.map((c) => header(c.init, 'idempotency-key'));
    expect(keys).toHaveLength(3);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe(keys[1]);
    expect(calls.filter((c) => c.url.endsWith('/session'))).toHaveLength(2);
    expect(JSON.parse(String(chatCalls[2]!.init.body))).toEqual({ message: 'second', stream: true, conversationId: 'cnv_01C' });
  });

  it('streams meta, tokens, citations and the stored message to its handlers', async () => {
    const { fetch } = scripted((url, _init, n) => (url.endsWith('/session') ? json(sessionBody(n, Date.now() + 3_600_000)) : answer()));
    const api = new WidgetApi('https://kc.example', 'bot_A', new VisitorStore('bot_A', null), fetch);
    const seen: string[] = [];
    await api.chat('hi', undefined, recording(seen));
    expect(seen).toEqual(['meta:cnv_01C', 'token:Hel', 'token:lo [1]', 'citations:1', 'done:msg_2']);
  });

  it('turns problems, stream errors and network failures into WidgetErrors with their codes', async () => {
    const cases: [Response | 'throw', number, string][] = [
      [json({ status: 429, code: 'rate_limited', detail: 'slow down' }, 429), 429, 'rate_limited'],
      [json({ status: 403, code: 'origin_not_allowed', detail: 'no' }, 403), 403, 'origin_not_allowed'],
      [sse([['meta', { conversationId: 'cnv_1' }], ['error', { status: 502, code: 'model_failed', detail: 'x' }]]), 502, 'model_failed'],
      [new Response('event: token\ndata: {"text":"a"}\n\n', { headers: { 'content-type': 'text/event-stream' } }), 0, 'network'],
      ['throw', 0, 'network'],
    ];
    for (const [reply, status, code] of cases) {
      const { fetch } = scripted((url, _init, n) => {
        if (url.endsWith('/session')) return json(sessionBody(n, Date.now() + 3_600_000));
        if (reply === 'throw') throw new TypeError('Failed to fetch');
        return reply;
      });
      const api = new WidgetApi('https://kc.example', 'bot_A', new VisitorStore('bot_A', null), fetch);
      const error = await api.chat('hi', undefined, noHandlers).then(() => null, (e: unknown) => e);
      expect(error, code).toBeInstanceOf(WidgetError);
      expect({ status: (error as WidgetError).status, code: (error as WidgetError).code }).toEqual({ status, code });
    }
  });
});

describe('action confirmations', () => {
  const cfm = { confirmationId: 'cfm_01JD3X0000000000000000000', action: 'cancel_order', arguments: { orderId: '77' }, expiresAt: '2030-01-01T00:00:00.000Z' };

  it('reads a confirmation from an event or frame, and refuses ill-formed ones', () => {
    expect(readConfirmation(cfm)).toEqual(cfm);
    // A socket frame carries more fields; only the confirmation's are kept.
    expect(readConfirmation({ type: 'confirmation', replyTo: 'msg_1', ...cfm })).toEqual(cfm);
    expect(readConfirmation({ ...cfm, arguments: ['not', 'an', 'object'] })!.arguments).toEqual({});
    expect(readConfirmation({ ...cfm, arguments: null })!.arguments).toEqual({});
    for (const bad of [null, 'cfm_1', [], { ...cfm, confirmationId: '../../leads' }, { ...cfm, confirmationId: 'cfm_' }, { ...cfm, confirmationId: 7 }, { ...cfm, action: '' }, { ...cfm, action: 1 }]) {
      expect(readConfirmation(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it('summarizes the arguments on one line as key: value, nested values as JSON', () => {
    expect(summarizeArguments({ orderId: '77', refund: true, amount: 12.5, note: null, items: [{ sku: 'a' }] })).toBe(
      'orderId: 77, refund: true, amount: 12.5, note: null, items: [{"sku":"a"}]',
    );
    expect(summarizeArguments({})).toBe('');
  });

  it('bounds each value and the whole summary, however large the arguments', () => {
    const one = summarizeArguments({ long: 'x'.repeat(10_000) });
    expect(one).toBe(`long: ${'x'.repeat(WIDGET_CLIENT.confirmValueMaxChars - 1)}…`);
    const many = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, 'v'.repeat(100)]));
    const summary = summarizeArguments(many);
    expect(summary.length).toBe(WIDGET_CLIENT.confirmSummaryMaxChars);
    expect(summary.endsWith('…')).toBe(true);
    const deep = summarizeArguments({ deep: JSON.parse('['.repeat(500) + ']'.repeat(500)) });
    expect(deep.length).toBeLessThanOrEqual(WIDGET_CLIENT.confirmSummaryMaxChars);
  });

  it('removes control, line-separator and bidi-override characters, so a value cannot reorder or break what the visitor reads', () => {
    expect(summarizeArguments({ amount: '\u202e001\u202c', 'to\nwhom': 'a\r\nb\u2028c\u0000d' })).toBe('amount: 001, to whom: a b c d');
    expect(readConfirmation({ ...cfm, action: 'pay\u2066_all\u2069\n' })!.action).toBe('pay _all');
    expect(readConfirmation({ ...cfm, action: 'a'.repeat(500) })!.action.length).toBe(WIDGET_CLIENT.confirmActionMaxChars);
  });

  it('never cuts a surrogate pair in half', () => {
    const cut = oneLine('ab😀cd', 4);
    expect(cut).toBe('ab…');
    expect(oneLine('ab😀cd', 5)).toBe('ab😀…');
  });

  it('tells final refusals (expired, already decided, other 4xx) from failures worth a retry (network, 5xx, 429)', () => {
    expect(refusalOf(409, 'confirmation_expired')).toBe('expired');
    expect(refusalOf(409, 'confirmation_decided')).toBe('decided');
    expect(refusalOf(404, 'confirmation_not_found')).toBe('final');
    expect(refusalOf(403, 'origin_not_allowed')).toBe('final');
    expect(refusalOf(0, 'network')).toBe('retry');
    expect(refusalOf(503, 'answer_unavailable')).toBe('retry');
    expect(refusalOf(429, 'rate_limited')).toBe('retry');
  });

  const session = (url: string, n: number) => (url.endsWith('/session') ? json(sessionBody(n, Date.now() + 3_600_000)) : null);
  const sse = (events: [string, unknown][]) =>
    new Response(events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join(''), { headers: { 'content-type': 'text/event-stream' } });

  it('streams a paused turn as its confirmation then paused(reason), from the event stream and from a 202 body', async () => {
    const meta = { conversationId: 'cnv_01C', userMessageId: 'msg_1', assistantMessageId: 'msg_2' };
    const replies = [
      sse([['meta', meta], ['tool', { callId: 'c1', name: 'x', status: 'ok', messageId: 'msg_t' }], ['confirmation', cfm], ['paused', { reason: 'confirmation' }]]),
      json({ conversationId: 'cnv_01C', userMessageId: 'msg_1', paused: true, reason: 'confirmation', confirmation: cfm }, 202),
      // A hostile or broken confirmation is not shown; the pause still is.
      sse([['meta', meta], ['confirmation', { ...cfm, confirmationId: 'javascript:alert(1)' }], ['paused', { reason: 'confirmation' }]]),
    ];
    const expected = [
      ['meta:cnv_01C', `confirmation:${cfm.confirmationId}:cancel_order:{"orderId":"77"}`, 'paused:confirmation'],
      ['meta:cnv_01C', `confirmation:${cfm.confirmationId}:cancel_order:{"orderId":"77"}`, 'paused:confirmation'],
      ['meta:cnv_01C', 'paused:confirmation'],
    ];
    for (const [i, reply] of replies.entries()) {
      const { fetch } = scripted((url, _init, n) => session(url, n) ?? reply);
      const api = new WidgetApi('https://kc.example', 'bot_A', new VisitorStore('bot_A', null), fetch);
      const seen: string[] = [];
      await api.chat('cancel it', undefined, recording(seen));
      expect(seen, `reply ${i}`).toEqual(expected[i]);
    }
  });

  it('sends a decision as {approve, stream: true} to the confirmation with an Idempotency-Key, and streams the resumed answer', async () => {
    const { calls, fetch } = scripted(
      (url, _init, n) =>
        session(url, n) ??
        sse([
          ['meta', { conversationId: 'cnv_01C', userMessageId: 'msg_1', assistantMessageId: 'msg_3' }],
          ['tool', { callId: 'c1', name: 'cancel_order', status: 'ok', messageId: 'msg_t' }],
          ['token', { text: 'Cancelled.' }],
          ['done', { id: 'msg_3', conversationId: 'cnv_01C', role: 'assistant', content: 'Cancelled.', citations: [] }],
        ]),
    );
    const api = new WidgetApi('https://kc.example', 'bot_A', new VisitorStore('bot_A', null), fetch);
    const seen: string[] = [];
    await api.decide('cnv_01C', cfm.confirmationId, true, recording(seen));
    await api.decide('cnv_01C', cfm.confirmationId, false, noHandlers);
    expect(seen).toEqual(['meta:cnv_01C', 'token:Cancelled.', 'done:msg_3']);
    const decisions = calls.filter((c) => c.url.includes('/confirmations/'));
    expect(decisions.map((c) => c.url)).toEqual(Array(2).fill(`https://kc.example/api/v1/widget/bot_A/conversations/cnv_01C/confirmations/${cfm.confirmationId}`));
    expect(decisions.map((c) => JSON.parse(String(c.init.body)))).toEqual([{ approve: true, stream: true }, { approve: false, stream: true }]);
    expect(decisions.map((c) => header(c.init, 'accept'))).toEqual(['text/event-stream', 'text/event-stream']);
    const keys = decisions.map((c) => header(c.init, 'idempotency-key'));
    expect(keys[0]).toMatch(/^[\w-]{8,}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(header(decisions[0]!.init, 'authorization')).toBe('Bearer tok1');
  });

  it('rejects a refused decision with the problem code (already decided, expired, not found)', async () => {
    for (const [status, code] of [[409, 'confirmation_decided'], [409, 'confirmation_expired'], [404, 'confirmation_not_found']] as const) {
      const { fetch } = scripted((url, _init, n) => session(url, n) ?? json({ status, code, detail: 'no' }, status));
      const api = new WidgetApi('https://kc.example', 'bot_A', new VisitorStore('bot_A', null), fetch);
      const error = await api.decide('cnv_01C', cfm.confirmationId, true, noHandlers).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(WidgetError);
      expect({ status: (error as WidgetError).status, code: (error as WidgetError).code }).toEqual({ status, code });
    }
  });
});
