/**
 * The parameters of an action are a JSON Schema the tenant writes and the model's arguments are
 * checked against on every call. @cfworker/json-schema validates without generating code (ajv's
 * `new Function` is refused in Workers). When an action is saved its schema is checked to BE a
 * JSON Schema object of bounded size and depth, with keyword values of the right kinds, and
 * regexes that compile and stay short.
 */
import { Validator, type Schema } from '@cfworker/json-schema';
import { ACTIONS } from '../../limits';

const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const SUBSCHEMA = ['items', 'additionalProperties', 'additionalItems', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems'];
const SUBSCHEMA_ARRAYS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minContains', 'maxContains'];
const NUMBERS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const TEXTS = ['title', 'description', 'format', '$comment', '$schema', '$id'];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Problems with a would-be parameters schema, each with a JSON pointer to where; empty when it is fine. */
export function schemaProblems(schema: unknown): { path: string; message: string }[] {
  if (!isObject(schema)) return [{ path: '', message: 'Must be a JSON Schema object' }];
  if (schema.type !== 'object') return [{ path: '/type', message: 'The parameters schema must have "type": "object" (tools take named arguments)' }];
  if (new TextEncoder().encode(JSON.stringify(schema)).byteLength > ACTIONS.maxSchemaBytes) {
    return [{ path: '', message: `Larger than ${ACTIONS.maxSchemaBytes} bytes` }];
  }
  const problems: { path: string; message: string }[] = [];
  let nodes = 0;
  const walk = (node: unknown, path: string, depth: number) => {
    if (problems.length >= 10) return;
    if (typeof node === 'boolean') return;
    if (!isObject(node)) return void problems.push({ path, message: 'A schema must be an object or a boolean' });
    if (++nodes > ACTIONS.maxSchemaNodes) return void problems.push({ path, message: `More than ${ACTIONS.maxSchemaNodes} schemas in all` });
    if (depth > ACTIONS.maxSchemaDepth) return void problems.push({ path, message: `Nested deeper than ${ACTIONS.maxSchemaDepth} levels` });
    const at = (key: string) => `${path}/${key}`;
    if ('type' in node) {
      const types = Array.isArray(node.type) ? node.type : [node.type];
      if (types.length === 0 || !types.every((t) => typeof t === 'string' && TYPES.has(t))) problems.push({ path: at('type'), message: `Must be one of ${[...TYPES].join(', ')} (or a list of them)` });
    }
    if ('required' in node && !(Array.isArray(node.required) && node.required.every((r) => typeof r === 'string') && new Set(node.required).size === node.required.length)) {
      problems.push({ path: at('required'), message: 'Must be a list of distinct property names' });
    }
    if ('enum' in node && !(Array.isArray(node.enum) && node.enum.length > 0)) problems.push({ path: at('enum'), message: 'Must be a non-empty list' });
    for (const key of COUNTS) if (key in node && !(Number.isInteger(node[key]) && (node[key] as number) >= 0)) problems.push({ path: at(key), message: 'Must be a non-negative integer' });
    for (const key of NUMBERS) if (key in node && !(typeof node[key] === 'number' && Number.isFinite(node[key]))) problems.push({ path: at(key), message: 'Must be a number' });
    if ('multipleOf' in node && !((node.multipleOf as number) > 0)) problems.push({ path: at('multipleOf'), message: 'Must be greater than 0' });
    for (const key of TEXTS) if (key in node && typeof node[key] !== 'string') problems.push({ path: at(key), message: 'Must be a string' });
    if ('pattern' in node) checkPattern(node.pattern, at('pattern'), problems);
    if ('$ref' in node && !(typeof node.$ref === 'string' && node.$ref.startsWith('#'))) {
      problems.push({ path: at('$ref'), message: 'Only references inside this schema (#/$defs/…) are allowed' });
    }
    for (const key of SUBSCHEMA) if (key in node) walk(node[key], at(key), depth + 1);
    for (const key of SUBSCHEMA_ARRAYS) {
      if (!(key in node)) continue;
      const list = node[key];
      if (!Array.isArray(list) || list.length === 0) problems.push({ path: at(key), message: 'Must be a non-empty list of schemas' });
      else list.forEach((s, i) => walk(s, `${at(key)}/${i}`, depth + 1));
    }
    for (const key of SUBSCHEMA_MAPS) {
      if (!(key in node)) continue;
      const map = node[key];
      if (!isObject(map)) {
        problems.push({ path: at(key), message: 'Must be an object of schemas' });
        continue;
      }
      for (const [name, s] of Object.entries(map)) {
        if (key === 'patternProperties') checkPattern(name, `${at(key)}/${name}`, problems);
        walk(s, `${at(key)}/${name}`, depth + 1);
      }
    }
  };
  walk(schema, '', 0);
  if (problems.length === 0) {
    // Whatever the walk missed, the validator must be able to run it.
    try {
      new Validator(schema as Schema, '2020-12', false).validate({});
    } catch (error) {
      problems.push({ path: '', message: `Not a usable JSON Schema: ${error instanceof Error ? error.message : 'error'}`.slice(0, 300) });
    }
  }
  return problems;
}

function checkPattern(pattern: unknown, path: string, problems: { path: string; message: string }[]) {
  if (typeof pattern !== 'string') return void problems.push({ path, message: 'Must be a string' });
  if (pattern.length > ACTIONS.maxPatternChars) return void problems.push({ path, message: `Longer than ${ACTIONS.maxPatternChars} characters` });
  try {
    new RegExp(pattern, 'u');
  } catch {
    problems.push({ path, message: 'Not a valid regular expression' });
  }
}

export type ArgumentsCheck = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

/**
 * The model's raw argument text, parsed and checked against the action's schema. The message of a
 * failure goes back to the model (so it can correct itself), never to an endpoint.
 */
export function checkArguments(schema: Record<string, unknown>, raw: string): ArgumentsCheck {
  if (new TextEncoder().encode(raw).byteLength > ACTIONS.maxArgumentsBytes) return { ok: false, message: `The arguments are larger than ${ACTIONS.maxArgumentsBytes} bytes.` };
  let value: unknown;
  try {
    value = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch {
    return { ok: false, message: 'The arguments are not valid JSON.' };
  }
  if (!isObject(value)) return { ok: false, message: 'The arguments must be a JSON object.' };
  const result = new Validator(schema as Schema, '2020-12', false).validate(value);
  if (result.valid) return { ok: true, value };
  const details = result.errors
    .filter((e) => e.keyword !== 'properties' && e.keyword !== 'allOf')
    .slice(0, 5)
    .map((e) => `${e.instanceLocation || '#'}: ${e.error}`);
  return { ok: false, message: `The arguments do not match the parameters schema: ${(details.length ? details : result.errors.slice(0, 3).map((e) => e.error)).join('; ')}` };
}
