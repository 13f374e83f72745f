/**
 * Request plans for one operation: path parameters (A's real ids, wrong-kind ids, random
 * or hostile segments), query strings (valid, hostile, malformed), bodies (valid, mutated,
 * odd content types, broken JSON, multipart) and headers. A plan names ids symbolically so
 * the same request can be sent by A and, holding A's ids, by B.
 */
import fc from 'fast-check';
import type { JsonSchema, Operation } from './openapi';
import { schemaArbitrary } from './schema-arbitrary';
import { hostileString, mutate } from './mutations';
import { CAPABILITY_PARAMS, type Actor, type FuzzWorld } from './world';

export type ParamValue =
  | { kind: 'fixture' } // A's id for this parameter's name
  | { kind: 'actor-org' } // the acting actor's own org (orgId only)
  | { kind: 'other-fixture'; index: number } // one of A's ids of another kind
  | { kind: 'raw'; segment: string }; // already percent-encoded

export type BodyPlan =
  | { kind: 'json'; value: unknown; contentType: string | null }
  | { kind: 'text'; text: string; contentType: string | null }
  | { kind: 'form'; fields: [string, string][] }
  | { kind: 'multipart'; parts: MultipartPart[] };

interface BodyChoice {
  body: BodyPlan | null;
  notes: string[];
}

export interface MultipartPart {
  name: string;
  value: string | { content: string | Uint8Array; filename: string; type: string };
}

export interface RequestPlan {
  params: Record<string, ParamValue>;
  query: string;
  body: BodyPlan | null;
  orgHeader: 'actor' | 'none' | 'other' | 'garbage';
  methodOverride: boolean;
  ip: number;
  notes: string[];
}

// --- path -----------------------------------------------------------------------------------

const hostileSegment = fc.oneof(
  fc.constantFrom('..', '.', '%2e%2e', '%00', '%ZZ', '%', '%2F', 'a%2Fb', '%252F', 'null', 'undefined', '0', '-1', '*', '%20'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).map(encodeURIComponent),
  fc.constantFrom(65, 300, 5000).map((n) => 'x'.repeat(n)),
);

function paramArbitrary(name: string, world: FuzzWorld, clean: boolean): fc.Arbitrary<ParamValue> {
  if (clean && world.idFor(name) !== undefined) {
    return name === 'orgId' ? fc.constantFrom<ParamValue>({ kind: 'fixture' }, { kind: 'actor-org' }) : fc.constant<ParamValue>({ kind: 'fixture' });
  }
  const raw = hostileSegment.map((segment): ParamValue => ({ kind: 'raw', segment }));
  const otherKind = fc.nat({ max: 50 }).map((index): ParamValue => ({ kind: 'other-fixture', index }));
  if (world.idFor(name) === undefined) return fc.oneof(raw, otherKind);
  const choices = [
    { weight: 8, arbitrary: fc.constant<ParamValue>({ kind: 'fixture' }) },
    { weight: 1, arbitrary: raw },
    { weight: 1, arbitrary: otherKind },
  ];
  if (name === 'orgId') choices.push({ weight: 4, arbitrary: fc.constant<ParamValue>({ kind: 'actor-org' }) });
  return fc.oneof(...choices);
}

// --- query ----------------------------------------------------------------------------------

const enc = encodeURIComponent;

function serialize(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(serialize);
  if (value !== null && typeof value === 'object') return [JSON.stringify(value)];
  return [String(value)];
}

/** Query text that is malformed or hostile on its own: broken escapes, repeats, huge values. */
const oddQuery = fc.oneof(
  fc.constantFrom('%', '%zz', '%E0%A4%A', 'limit', 'limit=', 'limit=1&limit=2', 'limit[]=1', '__proto__[x]=1', 'constructor[prototype][x]=1', '%00=%00', '&&&', '=', 'cursor=%FF%FE', 'limit=1e3', 'limit=0x10', 'limit=-0', 'limit=%201'),
  fc.tuple(fc.constantFrom('cursor', 'limit', 'since', 'q', 'x'), hostileString.filter((s) => s.value.length <= 10_000)).map(([k, s]) => `${k}=${enc(s.value)}`),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `${enc(s)}=${enc(s)}`),
);

/** Opaque tokens only the server issues: a clean request leaves them out. */
const SERVER_ISSUED_QUERY_PARAMS = new Set(['cursor']);

function queryArbitrary(op: Operation, resolve: (s: JsonSchema) => JsonSchema, clean: boolean): fc.Arbitrary<{ query: string; notes: string[] }> {
  if (clean) {
    const perParam = op.queryParams
      .filter((p) => !SERVER_ISSUED_QUERY_PARAMS.has(p.name))
      .map((p) => fc.option(schemaArbitrary(p.schema ?? {}, resolve).map((v) => serialize(v).map((s) => `${enc(p.name)}=${enc(s)}`))));
    return fc.tuple(...perParam).map((parts) => ({ query: parts.flatMap((p) => p ?? []).join('&'), notes: [] }));
  }
  const perParam = op.queryParams.map((p) =>
    fc.option(
      fc.oneof(
        { weight: 4, arbitrary: schemaArbitrary(p.schema ?? {}, resolve).map((v) => ({ parts: serialize(v).map((s) => `${enc(p.name)}=${enc(s)}`), note: '' })) },
        { weight: 1, arbitrary: hostileString.filter((s) => s.value.length <= 10_000).map((s) => ({ parts: [`${enc(p.name)}=${enc(s.value)}`], note: `query ${p.name} := ${s.note}` })) },
      ),
      { freq: 2 },
    ),
  );
  return fc
    .tuple(fc.tuple(...perParam), fc.option(fc.array(oddQuery, { minLength: 1, maxLength: 3 }), { freq: 3 }))
    .map(([params, odd]) => {
      const chosen = params.filter((p): p is { parts: string[]; note: string } => p !== null);
      const parts = [...chosen.flatMap((p) => p.parts), ...(odd ?? [])];
      const notes = chosen.map((p) => p.note).filter(Boolean);
      if (odd) notes.push(`odd query ${JSON.stringify(odd.join('&').slice(0, 120))}`);
      return { query: parts.join('&'), notes };
    });
}

// --- body -----------------------------------------------------------------------------------

const BROKEN_JSON = ['', '{', '{"a":', 'null', '[]', '"text"', '0', '\uFEFF{}', '{"a":1} trailing', 'NaN', '{"a":1,"a":2}', '{\'a\':1}', '{"__proto__":{"polluted":1}}', '[' .repeat(100_000), '{"a":"\\ud800"}', '\u0000'];

const oddJsonContentType = fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'application/json;;', 'application/problem+json', 'application/vnd.api+json', '*/*', 'multipart/form-data; boundary=x');

function toFormFields(value: unknown): [string, string][] {
  if (value === null || typeof value !== 'object') return [['value', String(value)]];
  return Object.entries(value).flatMap(([k, v]) => serialize(v).map((s): [string, string] => [k, s]));
}

function jsonBodyArbitrary(schema: JsonSchema, resolve: (s: JsonSchema) => JsonSchema): fc.Arbitrary<BodyChoice> {
  const valid = schemaArbitrary(schema, resolve);
  return fc.oneof(
    { weight: 5, arbitrary: valid.map((value) => ({ body: { kind: 'json', value, contentType: 'application/json' } as BodyPlan, notes: ['valid body'] })) },
    { weight: 5, arbitrary: valid.chain(mutate).map((m) => ({ body: { kind: 'json', value: m.value, contentType: 'application/json' } as BodyPlan, notes: [`mutated body: ${m.note}`] })) },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, oddJsonContentType).map(([value, contentType]) => ({ body: { kind: 'json', value, contentType } as BodyPlan, notes: [`JSON sent as ${contentType}`] })),
    },
    { weight: 1, arbitrary: valid.map((value) => ({ body: { kind: 'json', value, contentType: null } as BodyPlan, notes: ['JSON without content-type'] })) },
    { weight: 1, arbitrary: valid.map((value) => ({ body: { kind: 'form', fields: toFormFields(value) } as BodyPlan, notes: ['form-urlencoded body'] })) },
    {
      weight: 1,
      arbitrary: valid.map((value) => ({ body: { kind: 'multipart', parts: toFormFields(value).map(([name, v]) => ({ name, value: v })) } as BodyPlan, notes: ['multipart body'] })),
    },
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_JSON).map((text) => ({ body: { kind: 'text', text, contentType: 'application/json' } as BodyPlan, notes: [`broken JSON ${JSON.stringify(text.slice(0, 20))}`] })) },
  );
}

const FILE_KINDS = [
  { filename: 'notes.txt', type: 'text/plain' },
  { filename: 'guide.md', type: 'text/markdown' },
  { filename: 'table.csv', type: 'text/csv' },
  { filename: 'data.json', type: 'application/json' },
  { filename: 'page.html', type: 'text/html' },
];

const FILE_CONTENT: Record<string, (id: string) => string> = {
  'text/plain': (id) => `fuzz file ${id}\nsecond line, id ${id}\n`,
  'text/markdown': (id) => `# Fuzz ${id}\n\nA paragraph about ${id}.\n`,
  'text/csv': (id) => `id,text\n${id},fuzz\n`,
  'application/json': (id) => JSON.stringify({ id, text: 'fuzz' }),
  'text/html': (id) => `<!doctype html><html><head><title>${id}</title></head><body><p>Fuzz page ${id}</p></body></html>`,
};

const validFile = fc.tuple(fc.constantFrom(...FILE_KINDS), fc.uuid()).map(([kind, id]) => ({
  name: 'file',
  value: { content: FILE_CONTENT[kind.type]!(id), ...kind },
}));

const hostileFile = fc
  .record({
    name: fc.constantFrom('file', 'file', 'files', 'file[]', '', 'schedule'),
    filename: fc.oneof(fc.constantFrom('', '.', '../../x.txt', 'a\u0000b.txt', 'x.pdf', 'x.docx', '\u202Etxt.exe', 'x'.repeat(300) + '.txt'), fc.string({ unit: 'binary', maxLength: 30 })),
    type: fc.constantFrom('', 'text/plain', 'application/pdf', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/octet-stream', 'image/png', 'text/plain; charset=utf-16', 'x/y'),
    content: fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom<string | Uint8Array>('', '%PDF-1.7\n%garbage', 'PK\u0003\u0004garbage', '\uFEFF\u0000\u0000', '{"a":'),
      fc.string({ unit: 'binary', maxLength: 200 }),
    ),
  })
  .map(({ name, ...file }) => ({ name, value: file }));

function validMultipart(schema: JsonSchema, resolve: (s: JsonSchema) => JsonSchema): fc.Arbitrary<MultipartPart[]> {
  const scheduleSchema = resolve(schema).properties?.schedule;
  const schedule = scheduleSchema ? fc.option(schemaArbitrary(scheduleSchema, resolve).map((v) => ({ name: 'schedule', value: String(v) }))) : fc.constant(null);
  return fc.tuple(fc.array(validFile, { minLength: 1, maxLength: 3 }), schedule).map(([files, s]): MultipartPart[] => (s ? [...files, s] : files));
}

function multipartBodyArbitrary(schema: JsonSchema, resolve: (s: JsonSchema) => JsonSchema): fc.Arbitrary<BodyChoice> {
  const valid = validMultipart(schema, resolve);
  return fc.oneof(
    { weight: 4, arbitrary: valid.map((parts) => ({ body: { kind: 'multipart', parts } as BodyPlan, notes: ['valid files'] })) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(valid, fc.array(fc.oneof(hostileFile, fc.record({ name: fc.string({ maxLength: 10 }), value: hostileString.map((s) => s.value) })), { minLength: 1, maxLength: 4 }))
        .map(([ok, bad]) => ({ body: { kind: 'multipart', parts: [...ok.slice(0, 1), ...bad] } as BodyPlan, notes: ['hostile multipart parts'] })),
    },
    { weight: 1, arbitrary: fc.constant<BodyChoice>({ body: { kind: 'multipart', parts: [] } as BodyPlan, notes: ['multipart without parts'] }) },
    { weight: 1, arbitrary: fc.constant<BodyChoice>({ body: { kind: 'multipart', parts: Array.from({ length: 60 }, (_, i) => ({ name: 'file', value: { content: `f${i}`, filename: `${i}.txt`, type: 'text/plain' } })) } as BodyPlan, notes: ['60 files'] }) },
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_JSON.slice(0, 6)).map((text) => ({ body: { kind: 'text', text, contentType: 'application/json' } as BodyPlan, notes: ['JSON to a multipart route'] })) },
    { weight: 1, arbitrary: fc.constant<BodyChoice>({ body: { kind: 'text', text: 'file=x', contentType: null } as BodyPlan, notes: ['no content-type'] }) },
  );
}

/** A stray body on an operation that takes none. */
const strayBody = fc.option(
  fc.oneof(
    fc.jsonValue({ maxDepth: 2 }).map((value) => ({ body: { kind: 'json', value, contentType: 'application/json' } as BodyPlan, notes: ['stray JSON body'] })),
    fc.constantFrom(...BROKEN_JSON.slice(0, 8)).map((text) => ({ body: { kind: 'text', text, contentType: 'text/plain' } as BodyPlan, notes: ['stray text body'] })),
  ),
  { freq: 4 },
);

function bodyArbitrary(op: Operation, resolve: (s: JsonSchema) => JsonSchema, clean: boolean): fc.Arbitrary<BodyChoice | null> {
  if (!op.body) return op.method === 'GET' || clean ? fc.constant(null) : strayBody;
  const multipart = op.body.content['multipart/form-data'];
  const json = op.body.content['application/json'];
  if (clean) {
    if (multipart) return validMultipart(multipart, resolve).map((parts) => ({ body: { kind: 'multipart', parts }, notes: ['valid files'] }));
    return schemaArbitrary(json ?? {}, resolve).map((value) => ({ body: { kind: 'json', value, contentType: 'application/json' }, notes: ['valid body'] }));
  }
  const arb = multipart ? multipartBodyArbitrary(multipart, resolve) : json ? jsonBodyArbitrary(json, resolve) : jsonBodyArbitrary({}, resolve);
  // A required body is sometimes missing altogether.
  return fc.oneof({ weight: 12, arbitrary: arb }, { weight: 1, arbitrary: fc.constant<BodyChoice>({ body: null, notes: ['no body'] }) });
}

// --- the whole request ----------------------------------------------------------------------

/**
 * Half the plans are clean (A's ids, valid query and body, the actor's org) so that the
 * success paths run too; the other half mix hostile parts into every dimension.
 */
export function requestArbitrary(op: Operation, world: FuzzWorld, resolve: (s: JsonSchema) => JsonSchema): fc.Arbitrary<RequestPlan> {
  return fc.boolean().chain((clean) => planArbitrary(op, world, resolve, clean));
}

function planArbitrary(op: Operation, world: FuzzWorld, resolve: (s: JsonSchema) => JsonSchema, clean: boolean): fc.Arbitrary<RequestPlan> {
  const params = fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, paramArbitrary(p.name, world, clean)])));
  return fc
    .record({
      params,
      query: queryArbitrary(op, resolve, clean),
      body: bodyArbitrary(op, resolve, clean),
      orgHeader: clean ? fc.constant<RequestPlan['orgHeader']>('actor') : fc.constantFrom<RequestPlan['orgHeader']>('actor', 'actor', 'none', 'other', 'garbage'),
      methodOverride: ['PATCH', 'DELETE', 'PUT'].includes(op.method) ? fc.boolean() : fc.constant(false),
      ip: fc.nat({ max: 255 }),
    })
    .map(({ params, query, body, orgHeader, methodOverride, ip }): RequestPlan => ({
      params,
      query: query.query,
      body: body?.body ?? null,
      orgHeader,
      methodOverride,
      ip,
      notes: [...(clean ? ['clean'] : []), ...query.notes, ...(body?.notes ?? []), ...(orgHeader === 'actor' ? [] : [`X-Org-Id: ${orgHeader}`]), ...(methodOverride ? ['sent as POST + X-HTTP-Method-Override'] : [])],
    }));
}

export interface RenderedRequest {
  url: string;
  init: RequestInit;
  /** Path parameters that carry one of A's ids (capabilities excepted). */
  foreignIds: string[];
  summary: string;
}

function paramSegment(name: string, value: ParamValue, actor: Actor, world: FuzzWorld): { segment: string; foreign: boolean } {
  switch (value.kind) {
    case 'fixture':
      return { segment: enc(world.idFor(name)!), foreign: !CAPABILITY_PARAMS.has(name) };
    case 'actor-org':
      return { segment: enc(actor.orgId), foreign: false };
    case 'other-fixture': {
      const ids = world.allIds();
      return { segment: enc(ids[value.index % ids.length]!), foreign: true };
    }
    case 'raw':
      return { segment: value.segment, foreign: false };
  }
}

function encodeBody(body: BodyPlan | null, headers: Record<string, string>): BodyInit | undefined {
  if (!body) return undefined;
  switch (body.kind) {
    case 'json':
      if (body.contentType) headers['content-type'] = body.contentType;
      return JSON.stringify(body.value) ?? 'null';
    case 'text':
      if (body.contentType) headers['content-type'] = body.contentType;
      return body.text;
    case 'form':
      return new URLSearchParams(body.fields);
    case 'multipart': {
      const form = new FormData();
      for (const part of body.parts) {
        if (typeof part.value === 'string') form.append(part.name, part.value);
        else form.append(part.name, new File([part.value.content], part.value.filename, { type: part.value.type }));
      }
      return form;
    }
  }
}

export function render(op: Operation, plan: RequestPlan, actor: Actor, world: FuzzWorld, base: string): RenderedRequest {
  const foreignIds: string[] = [];
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const { segment, foreign } = paramSegment(name, plan.params[name] ?? { kind: 'raw', segment: 'x' }, actor, world);
    if (foreign && actor.label === 'B') foreignIds.push(name);
    return segment;
  });
  const headers: Record<string, string> = {
    authorization: `Bearer ${actor.token}`,
    'cf-connecting-ip': `203.0.113.${plan.ip}`,
  };
  if (plan.orgHeader === 'actor') headers['x-org-id'] = actor.orgId;
  if (plan.orgHeader === 'other') headers['x-org-id'] = actor.otherOrgId;
  if (plan.orgHeader === 'garbage') headers['x-org-id'] = 'org_%00<"\'>';
  let method = op.method;
  if (plan.methodOverride) {
    headers['x-http-method-override'] = method;
    method = 'POST';
  }
  const body = method === 'GET' ? undefined : encodeBody(plan.body, headers);
  const url = `${base}${path}${plan.query ? `?${plan.query}` : ''}`;
  const shownBody = plan.body ? JSON.stringify(plan.body, (_k, v) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length} chars)` : v instanceof Uint8Array ? `<${v.length} bytes>` : v)) : 'none';
  const summary = `${method} ${url.length > 400 ? `${url.slice(0, 400)}…` : url} as ${actor.label}\n  headers: ${JSON.stringify({ ...headers, authorization: '<token>' })}\n  body: ${shownBody.slice(0, 2000)}\n  notes: ${plan.notes.join('; ') || '-'}`;
  return { url, init: { method, headers, body }, foreignIds, summary };
}
