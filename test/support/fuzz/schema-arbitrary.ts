/**
 * JSON Schema (the subset zod-openapi writes into OpenAPI 3.1) → a fast-check arbitrary of
 * values the schema accepts: objects with their required and some optional properties,
 * strings within their lengths (mostly ASCII, sometimes astral, RTL or combining marks),
 * formats, enums, bounded numbers and integers, arrays, oneOf / anyOf, nullable types.
 *
 * Sizes are kept small on purpose: huge values are the mutator's job, and small valid
 * requests let many more of them through in the time budget.
 */
import fc from 'fast-check';
import type { JsonSchema } from './openapi';

/** Longest string and array the generator builds, whatever the schema allows. */
const GENERATED_STRING_MAX = 40;
const GENERATED_ARRAY_MAX = 4;
const GENERATED_EXTRA_KEYS_MAX = 3;

/** Characters that break naive text handling, kept valid for any plain string field. */
export const TRICKY_CHARS = [
  '\u{1D518}', // astral (a surrogate pair in UTF-16)
  '\u{1F469}\u200D\u{1F4BB}', // emoji joined with ZWJ
  '\u202E', // right-to-left override
  '\u05D0', // Hebrew letter (RTL)
  'e\u0301', // combining acute accent
  '\uFEFF', // byte order mark
  '\u2028', // line separator (breaks naive JS string embedding)
  '"', '\\', '<', '%', '\'',
];

const asciiChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const plainChar = fc.oneof(
  { weight: 12, arbitrary: asciiChar },
  { weight: 1, arbitrary: fc.constantFrom(...TRICKY_CHARS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

/** Fits a string into [min, max] UTF-16 code units, the length zod counts. */
function fitLength(s: string, min: number, max: number): string {
  let out = s.length > max ? s.slice(0, max) : s;
  if (out.length < min) out += 'a'.repeat(min - out.length);
  return out;
}

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? GENERATED_STRING_MAX, min + GENERATED_STRING_MAX));
  const fit = (arb: fc.Arbitrary<string>) => arb.map((s) => fitLength(s, min, schema.maxLength ?? Number.MAX_SAFE_INTEGER));
  switch (schema.format) {
    case 'email':
      // zod's email check is stricter than RFC 5321, which fc.emailAddress() follows.
      return fit(fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]$/), fc.stringMatching(/^[a-z0-9]{1,12}$/)).map(([local, host]) => `${local.replace(/\.\.+/g, '.')}@${host}.example.com`));
    case 'uri':
    case 'url':
      return fit(fc.oneof(fc.webUrl(), fc.constantFrom('http://localhost:11434/v1', 'https://api.example.com/v1')));
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
    case 'date':
      return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    case 'uuid':
      return fc.uuid();
    case 'binary':
      return fc.string({ maxLength: GENERATED_STRING_MAX });
  }
  if (schema.pattern) {
    try {
      return fit(fc.stringMatching(new RegExp(schema.pattern)));
    } catch {
      // A pattern fast-check cannot invert: plain strings test the refusal path instead.
    }
  }
  const examples = typeof schema.example === 'string' ? [fc.constant(schema.example)] : [];
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(plainChar, { minLength: min, maxLength: max }).map((cs) => fitLength(cs.join(''), min, schema.maxLength ?? max)) },
    ...examples.map((arbitrary) => ({ weight: 1, arbitrary })),
  );
}

function bound(value: number | boolean | undefined, fallback: number | undefined): number | undefined {
  return typeof value === 'number' ? value : fallback;
}

function numberArbitrary(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const exclusiveMin = bound(schema.exclusiveMinimum, undefined);
  const exclusiveMax = bound(schema.exclusiveMaximum, undefined);
  if (integer) {
    const min = schema.minimum ?? (exclusiveMin !== undefined ? Math.floor(exclusiveMin) + 1 : -1_000_000);
    const max = schema.maximum ?? (exclusiveMax !== undefined ? Math.ceil(exclusiveMax) - 1 : 1_000_000);
    return fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max: Math.min(max, Number.MAX_SAFE_INTEGER) });
  }
  const min = schema.minimum ?? exclusiveMin ?? -1e6;
  const max = schema.maximum ?? exclusiveMax ?? 1e6;
  return fc
    .double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: exclusiveMin !== undefined, maxExcluded: exclusiveMax !== undefined })
    .map((n) => (Object.is(n, -0) ? 0 : n));
}

export function schemaArbitrary(schema: JsonSchema, resolve: (s: JsonSchema) => JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  schema = resolve(schema);
  if (depth > 8) return fc.constant(null);
  const next = (s: JsonSchema) => schemaArbitrary(s, resolve, depth + 1);

  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.oneOf || schema.anyOf) return fc.oneof(...(schema.oneOf ?? schema.anyOf)!.map(next));
  if (schema.allOf) return next(mergeAllOf(schema.allOf.map(resolve)));

  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (schema.nullable && !types.includes('null')) types.push('null');
  if (types.length > 1) {
    return fc.oneof(...types.map((type) => next({ ...schema, type, nullable: false })));
  }
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return numberArbitrary(schema, true);
    case 'number':
      return numberArbitrary(schema, false);
    case 'string':
      return stringArbitrary(schema);
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? GENERATED_ARRAY_MAX, minLength + GENERATED_ARRAY_MAX));
      return fc.array(next(schema.items ?? {}), { minLength, maxLength });
    }
    case 'object':
      return objectArbitrary(schema, next);
    default:
      // No type at all (`{}`): anything JSON.
      return schema.properties ? objectArbitrary(schema, next) : fc.jsonValue({ maxDepth: 2 });
  }
}

/**
 * Rules the routes enforce but the document cannot express (refinements in zod, policy in
 * services), keyed by property name. Without them most "valid" requests would be refused
 * and the success paths would go unfuzzed.
 */
const host = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/);
const PROPERTY_HINTS: Record<string, fc.Arbitrary<unknown>> = {
  password: fc.string({ minLength: 12, maxLength: 40 }),
  newPassword: fc.string({ minLength: 12, maxLength: 40 }),
  allowedOrigins: fc.array(host.map((h) => `https://${h}.example.com`), { maxLength: 3 }),
  url: fc.tuple(host, fc.webPath()).map(([h, path]) => `https://${h}.example.com${path}`),
};

function objectArbitrary(schema: JsonSchema, next: (s: JsonSchema) => fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const known = fc.record(
    Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, PROPERTY_HINTS[name] ?? next(s)])),
    { requiredKeys: [...required].filter((k) => k in properties) },
  );
  const extra = schema.additionalProperties;
  if (extra && typeof extra === 'object' && Object.keys(extra).length > 0) {
    const extras = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !(k in properties) && k !== '__proto__'),
      next(extra),
      { maxKeys: GENERATED_EXTRA_KEYS_MAX },
    );
    return fc.tuple(known, extras).map(([k, e]) => ({ ...e, ...k }));
  }
  return known;
}

function mergeAllOf(parts: JsonSchema[]): JsonSchema {
  return parts.reduce<JsonSchema>(
    (acc, part) => ({
      ...acc,
      ...part,
      properties: { ...acc.properties, ...part.properties },
      required: [...(acc.required ?? []), ...(part.required ?? [])],
    }),
    {},
  );
}
