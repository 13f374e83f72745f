/**
 * Vectorize metadata filters: validation (the same rules Vectorize applies) and evaluation
 * for the local index, with Vectorize's semantics:
 *
 * - Only properties with a metadata index are filterable. A filter naming any other property
 *   matches nothing (production does the same, silently), so a missing
 *   `create-metadata-index` shows up locally instead of only after deploy.
 * - A vector's indexed values are captured when it is written, as Vectorize does: adding an
 *   index later does not index vectors already stored.
 * - String values are indexed on their first 64 bytes (cut on a UTF-8 boundary); filter
 *   strings are cut the same way before comparing. A value whose type differs from the
 *   index's type is not indexed.
 * - Keys are implicitly ANDed; "a.b" reaches into nested metadata `{ a: { b } }`.
 * - A vector without the property behaves as null: `$eq: null` and `$ne: 'x'` match it,
 *   `$eq: 'x'` and every range operator do not; `$nin` is the complement of `$in`.
 */
import { VECTORIZE, VECTORIZE_RULES } from '../limits';

export type MetadataIndexType = 'string' | 'number' | 'boolean';

/** One `wrangler vectorize create-metadata-index --property-name=… --type=…`. */
export interface MetadataIndexSpec {
  propertyName: string;
  type: MetadataIndexType;
}

export type IndexedValue = string | number | boolean;
/** A vector's values for the indexed properties, keyed by property name (dotted for nesting). */
export type IndexedMetadata = Record<string, IndexedValue>;

type Scalar = string | number | boolean | null;
const EQUALITY_OPS = new Set(['$eq', '$ne']);
const COLLECTION_OPS = new Set(['$in', '$nin']);
const LOWER_BOUND_OPS = new Set(['$gt', '$gte']);
const UPPER_BOUND_OPS = new Set(['$lt', '$lte']);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The longest prefix of `value` that fits in `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(value: string, maxBytes: number = VECTORIZE_RULES.indexedStringBytes): string {
  if (value.length * 3 <= maxBytes) return value;
  const bytes = encoder.encode(value);
  if (bytes.length <= maxBytes) return value;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // step back off continuation bytes
  return decoder.decode(bytes.subarray(0, end));
}

function readPath(metadata: Record<string, unknown>, path: string): unknown {
  let current: unknown = metadata;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** What the metadata indexes would hold for this metadata at write time; undefined when nothing. */
export function projectIndexedMetadata(
  metadata: Record<string, unknown> | undefined,
  indexes: readonly MetadataIndexSpec[],
): IndexedMetadata | undefined {
  if (!metadata || indexes.length === 0) return undefined;
  let projection: IndexedMetadata | undefined;
  for (const { propertyName, type } of indexes) {
    const value = readPath(metadata, propertyName);
    let indexed: IndexedValue | undefined;
    if (type === 'string' && typeof value === 'string') indexed = truncateUtf8(value);
    else if (type === 'number' && typeof value === 'number' && Number.isFinite(value)) indexed = value;
    else if (type === 'boolean' && typeof value === 'boolean') indexed = value;
    if (indexed !== undefined) (projection ??= {})[propertyName] = indexed;
  }
  return projection;
}

/**
 * The indexed values of the given (currently indexed) properties, shaped like the metadata
 * they came from ("source.kind" → { source: { kind } }), as `returnMetadata: 'indexed'` gives them.
 */
export function indexedMetadataAsObject(indexed: IndexedMetadata | undefined, propertyNames: readonly string[]): Record<string, VectorizeVectorMetadata> {
  const result: Record<string, unknown> = {};
  if (!indexed) return {};
  for (const name of propertyNames) {
    const value = indexed[name];
    if (value === undefined) continue;
    const path = name.split('.');
    let node = result;
    for (const segment of path.slice(0, -1)) node = (node[segment] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  }
  return result as Record<string, VectorizeVectorMetadata>;
}

const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

function filterKeyProblem(key: string): string | null {
  if (key.length === 0) return 'filter keys cannot be empty';
  if (key.length > VECTORIZE_RULES.maxFilterKeyLength) return `filter key "${key.slice(0, 40)}…" is longer than ${VECTORIZE_RULES.maxFilterKeyLength} characters`;
  if (key.startsWith('$')) return `filter key "${key}" cannot start with $ (operators go inside a property: { "${key.slice(1)}": { "${key}": … } })`;
  if (key.includes('"')) return `filter key ${JSON.stringify(key)} cannot contain a double quote`;
  if (key.split('.').some((s) => s.length === 0)) return `filter key "${key}" has an empty segment around a dot`;
  return null;
}

function operatorProblems(key: string, ops: Record<string, unknown>): string[] {
  const names = Object.keys(ops);
  if (names.length === 0) return [`filter on "${key}" has no operator`];
  const problems: string[] = [];
  for (const op of names) {
    const value = ops[op];
    if (EQUALITY_OPS.has(op)) {
      if (!isScalar(value)) problems.push(`${key}.${op} takes a string, number, boolean or null`);
    } else if (COLLECTION_OPS.has(op)) {
      if (!Array.isArray(value) || !value.every(isScalar)) problems.push(`${key}.${op} takes an array of strings, numbers, booleans or nulls`);
    } else if (LOWER_BOUND_OPS.has(op) || UPPER_BOUND_OPS.has(op)) {
      if (!(typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))) {
        problems.push(`${key}.${op} takes a string or a number`);
      }
    } else {
      problems.push(`unknown operator ${op} on "${key}" (supported: $eq $ne $in $nin $lt $lte $gt $gte)`);
    }
  }
  // Vectorize allows one operator per property, except one lower bound with one upper bound.
  const lower = names.filter((n) => LOWER_BOUND_OPS.has(n)).length;
  const upper = names.filter((n) => UPPER_BOUND_OPS.has(n)).length;
  const isRange = lower === 1 && upper === 1 && names.length === 2;
  if (names.length > 1 && !isRange) problems.push(`"${key}" combines ${names.join(' and ')}; only a lower bound ($gt/$gte) with an upper bound ($lt/$lte) may be combined`);
  return problems;
}

/** Every reason Vectorize would reject this filter; empty when it is valid. */
export function metadataFilterProblems(filter: unknown): string[] {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) return ['filter must be an object'];
  const entries = Object.entries(filter as Record<string, unknown>);
  if (entries.length === 0) return ['filter must not be empty (omit it instead)'];
  const bytes = encoder.encode(JSON.stringify(filter)).length;
  if (bytes >= VECTORIZE.maxFilterJsonBytes) return [`filter is ${bytes} bytes of JSON; Vectorize needs less than ${VECTORIZE.maxFilterJsonBytes}`];

  const problems: string[] = [];
  for (const [key, condition] of entries) {
    const keyProblem = filterKeyProblem(key);
    if (keyProblem) problems.push(keyProblem);
    if (isScalar(condition)) continue; // implicit $eq
    if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) {
      problems.push(`filter on "${key}" must be a string, number, boolean, null or an operator object (use $in for lists)`);
      continue;
    }
    problems.push(...operatorProblems(key, condition as Record<string, unknown>));
  }
  return problems;
}

export type CompiledMetadataFilter =
  | { kind: 'all' }
  | { kind: 'none' }
  | { kind: 'predicate'; test: (indexed: IndexedMetadata | undefined) => boolean };

type Clause = (value: IndexedValue | undefined) => boolean;

const normalizeScalar = (v: Scalar): Scalar => (typeof v === 'string' ? truncateUtf8(v) : v);

function equals(expected: Scalar): Clause {
  const target = normalizeScalar(expected);
  return target === null ? (value) => value === undefined : (value) => value === target;
}

function inList(list: Scalar[]): Clause {
  const targets = new Set(list.filter((v) => v !== null).map(normalizeScalar));
  const includesNull = list.includes(null);
  return (value) => (value === undefined ? includesNull : targets.has(value));
}

function bound(op: string, limit: string | number): Clause {
  const target = normalizeScalar(limit) as string | number;
  const sameType = (value: IndexedValue | undefined): value is string | number => typeof value === typeof target;
  switch (op) {
    case '$lt':
      return (value) => sameType(value) && value < target;
    case '$lte':
      return (value) => sameType(value) && value <= target;
    case '$gt':
      return (value) => sameType(value) && value > target;
    default:
      return (value) => sameType(value) && value >= target;
  }
}

function clausesFor(condition: unknown): Clause[] {
  if (isScalar(condition)) return [equals(condition)];
  return Object.entries(condition as Record<string, unknown>).map(([op, operand]): Clause => {
    if (op === '$eq') return equals(operand as Scalar);
    if (op === '$ne') {
      const eq = equals(operand as Scalar);
      return (value) => !eq(value);
    }
    if (op === '$in') return inList(operand as Scalar[]);
    if (op === '$nin') {
      const within = inList(operand as Scalar[]);
      return (value) => !within(value);
    }
    return bound(op, operand as string | number);
  });
}

/**
 * Turns a filter (already validated with metadataFilterProblems) into a test over a vector's
 * indexed metadata, given the index's metadata indexes.
 */
export function compileMetadataFilter(
  filter: VectorizeVectorMetadataFilter | undefined,
  indexes: readonly MetadataIndexSpec[],
): CompiledMetadataFilter {
  if (!filter || Object.keys(filter).length === 0) return { kind: 'all' };
  const indexed = new Set(indexes.map((i) => i.propertyName));
  const checks: Array<{ property: string; clause: Clause }> = [];
  for (const [property, condition] of Object.entries(filter)) {
    if (!indexed.has(property)) return { kind: 'none' };
    for (const clause of clausesFor(condition)) checks.push({ property, clause });
  }
  return {
    kind: 'predicate',
    test: (metadata) => {
      for (const { property, clause } of checks) if (!clause(metadata?.[property])) return false;
      return true;
    },
  };
}
