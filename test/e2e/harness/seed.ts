/**
 * Seeds the running Worker through its public API, the way a customer sets up a bot: register
 * an owner, make bots public for the host page's origin, give them knowledge, configure the
 * widget, and wait until every source is ready. Answers come from the offline extractive
 * answerer (no model configured), so they are deterministic quotes of this knowledge.
 */

/** The FAQ page the main bots crawl (a `url` source): its URL is what citations link to. */
export const FAQ_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Turbine FAQ</title></head>
<body><main><article>
<h1>Acme Turbine FAQ</h1>
<h2>Warranty</h2>
<p>The Acme Turbine warranty lasts three years from the date of purchase and covers every moving part.</p>
<h2>Refunds</h2>
<p>Refunds are paid back to the original card within five working days after we receive the turbine.</p>
<h2>Noise</h2>
<p>The turbine hums at 42 decibels at full speed, quieter than a refrigerator.</p>
</article></main></body></html>
`;

export const QUESTIONS = {
  warranty: 'How long does the warranty last?',
  refunds: 'How fast are refunds paid back?',
  noise: 'How loud is the turbine at full speed?',
  mascot: 'What is the support mascot called?',
} as const;

/** Words the answers quote from the knowledge (what the tests look for in the answer bubble). */
export const EXPECTED = {
  warranty: 'three years',
  refunds: 'five working days',
  noise: '42 decibels',
} as const;

/** window.__pwned is what the tests check: set only if this markup ever became an element. */
export const HOSTILE_MARKUP = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_TEXT = `# Support mascot\n\nThe support mascot is called ${HOSTILE_MARKUP} by every visitor of the help centre.\n`;

export const SUGGESTED_QUESTIONS = [QUESTIONS.warranty, QUESTIONS.refunds];
export const PASSWORD = 'e2e-owner-password-123';

export interface Seeded {
  owner: { email: string; token: string; orgId: string };
  /** Light theme, FAQ knowledge, lead form after the first answer, suggested questions. */
  lightBotId: string;
  /** The same bot in dark. */
  darkBotId: string;
  /** Knowledge whose answer quotes hostile markup. */
  hostileBotId: string;
  /** "Talk to a human" on (no automatic handoff after fallbacks), no knowledge: the live side's tests. */
  liveBotId: string;
  faqUrl: string;
}

async function api<T = any>(base: string, method: string, path: string, opts: { token?: string; body?: unknown; expect: number }): Promise<T> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  if (res.status !== opts.expect) throw new Error(`seed: ${method} ${path} answered ${res.status} (expected ${opts.expect}): ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const leadForm = {
  enabled: true,
  fields: [
    { field: 'name', required: true },
    { field: 'email', required: true },
    { field: 'phone', required: false },
  ],
  when: 'after_first_answer',
} as const;

export async function seed(opts: { workerUrl: string; hostOrigin: string; faqUrl: string }): Promise<Seeded> {
  const base = opts.workerUrl;
  const email = `e2e-owner-${Date.now().toString(36)}@example.com`;
  const registered = await api(base, 'POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, name: 'E2E Owner' }, expect: 201 });
  const token: string = registered.accessToken;
  const orgId: string = registered.organization.id;
  const lightBotId: string = registered.bot.id;

  const widgetFor = (theme: 'light' | 'dark', title: string) => ({
    appearance: { theme, title },
    messages: { suggestedQuestions: SUGGESTED_QUESTIONS, initial: ['Hi! Ask me anything about the Acme Turbine.'] },
    leadForm,
  });
  await api(base, 'PATCH', `/api/v1/bots/${lightBotId}`, {
    token,
    body: { name: 'Acme Help', visibility: 'public', allowedOrigins: [opts.hostOrigin], widget: widgetFor('light', 'Acme Help') },
    expect: 200,
  });
  const dark = await api(base, 'POST', '/api/v1/bots', {
    token,
    body: { name: 'Acme Help (dark)', visibility: 'public', allowedOrigins: [opts.hostOrigin], widget: widgetFor('dark', 'Acme Help') },
    expect: 201,
  });
  const hostile = await api(base, 'POST', '/api/v1/bots', {
    token,
    body: { name: 'Mascot Bot', visibility: 'public', allowedOrigins: [opts.hostOrigin], widget: { appearance: { theme: 'light' }, leadForm: { enabled: false } } },
    expect: 201,
  });

  const live = await api(base, 'POST', '/api/v1/bots', {
    token,
    body: {
      name: 'Acme Support',
      visibility: 'public',
      allowedOrigins: [opts.hostOrigin],
      widget: { appearance: { theme: 'light', title: 'Acme Support' }, leadForm: { enabled: false } },
      handoff: { enabled: true, fallbackTurns: 0 },
    },
    expect: 201,
  });

  const sources = [
    await api(base, 'POST', `/api/v1/bots/${lightBotId}/sources`, { token, body: { type: 'url', url: opts.faqUrl, title: 'Acme Turbine FAQ' }, expect: 202 }),
    await api(base, 'POST', `/api/v1/bots/${dark.id}/sources`, { token, body: { type: 'url', url: opts.faqUrl, title: 'Acme Turbine FAQ' }, expect: 202 }),
    await api(base, 'POST', `/api/v1/bots/${hostile.id}/sources`, { token, body: { type: 'text', title: 'Mascot', text: HOSTILE_TEXT }, expect: 202 }),
  ];
  const deadline = Date.now() + 45_000;
  for (const source of sources) {
    for (;;) {
      const current = await api(base, 'GET', `/api/v1/sources/${source.id}`, { token, expect: 200 });
      if (current.status === 'ready') break;
      if (current.status === 'failed') throw new Error(`seed: source ${source.id} failed: ${JSON.stringify(current)}`);
      if (Date.now() > deadline) throw new Error(`seed: source ${source.id} still ${current.status} after 45 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { owner: { email, token, orgId }, lightBotId, darkBotId: dark.id, hostileBotId: hostile.id, liveBotId: live.id, faqUrl: opts.faqUrl };
}

/** The owner's view through the API, for the tests' "is it stored" checks. */
export function ownerApi(base: string, token: string) {
  return <T = any>(method: string, path: string, body?: unknown, expect = 200) => api<T>(base, method, path, { token, body, expect });
}
