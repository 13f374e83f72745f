/**
 * Vectorize's limits, checked before any call, for both backends. Production would reject
 * the same requests remotely, later and with terser messages; the local index would not
 * reject some of them at all, which is exactly how code that only ever ran locally breaks
 * on deploy. `withVectorizeLimits` wraps any VectorIndex with these checks.
 */
import { VECTORIZE, VECTORIZE_RULES } from '../limits';
import { metadataFilterProblems } from './metadata-filter';
import type { VectorIndex } from './vector-index';

export type VectorIndexErrorCode =
  | 'too_many_vectors'
  | 'invalid_id'
  | 'invalid_vector'
  | 'too_many_dimensions'
  | 'dimension_mismatch'
  | 'invalid_metadata'
  | 'metadata_too_large'
  | 'invalid_namespace'
  | 'invalid_top_k'
  | 'invalid_filter'
  | 'invalid_options';

/** A request the index refuses. `code` is stable; `message` says which vector and why. */
export class VectorIndexError extends Error {
  override readonly name = 'VectorIndexError';
  constructor(
    readonly code: VectorIndexErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const encoder = new TextEncoder();
const byteLength = (s: string) => encoder.encode(s).length;
const fail = (code: VectorIndexErrorCode, message: string): never => {
  throw new VectorIndexError(code, message);
};

export function checkId(id: unknown, where: string): void {
  if (typeof id !== 'string' || id.length === 0) fail('invalid_id', `${where} must be a non-empty string`);
  const bytes = byteLength(id as string);
  if (bytes > VECTORIZE.maxIdBytes) fail('invalid_id', `${where} is ${bytes} bytes; Vectorize allows ${VECTORIZE.maxIdBytes}`);
}

export function checkIds(ids: unknown, what: string): void {
  if (!Array.isArray(ids)) fail('invalid_id', `${what} takes an array of ids`);
  (ids as unknown[]).forEach((id, i) => checkId(id, `ids[${i}]`));
}

export function checkNamespace(namespace: unknown, where: string): void {
  if (namespace === undefined) return;
  if (typeof namespace !== 'string' || namespace.length === 0) fail('invalid_namespace', `${where} must be a non-empty string when given`);
  const bytes = byteLength(namespace as string);
  if (bytes > VECTORIZE_RULES.maxNamespaceBytes) {
    fail('invalid_namespace', `${where} is ${bytes} bytes; Vectorize allows ${VECTORIZE_RULES.maxNamespaceBytes}`);
  }
}

/** Returns the vector's dimension count. */
function checkValues(values: unknown, where: string, expectedDimensions: number | undefined): number {
  const isArrayLike = Array.isArray(values) || values instanceof Float32Array || values instanceof Float64Array;
  if (!isArrayLike) return fail('invalid_vector', `${where} must be an array of numbers, a Float32Array or a Float64Array`);
  const list = values as ArrayLike<number>;
  if (list.length === 0) fail('invalid_vector', `${where} is empty`);
  if (list.length > VECTORIZE.maxDimensions) {
    fail('too_many_dimensions', `${where} has ${list.length} dimensions; Vectorize allows ${VECTORIZE.maxDimensions}`);
  }
  if (expectedDimensions !== undefined && list.length !== expectedDimensions) {
    fail('dimension_mismatch', `${where} has ${list.length} dimensions; this index has ${expectedDimensions}`);
  }
  for (let i = 0; i < list.length; i++) {
    const x = list[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) fail('invalid_vector', `${where}[${i}] is not a finite number`);
  }
  return list.length;
}

function metadataValueProblem(value: unknown, depth: number): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : 'numbers must be finite';
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? null : 'arrays may only hold strings';
  if (typeof value === 'object' && depth < 8 && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, inner] of Object.entries(value)) {
      const problem = metadataKeyProblem(key) ?? metadataValueProblem(inner, depth + 1);
      if (problem) return `${key}: ${problem}`;
    }
    return null;
  }
  return `unsupported value of type ${typeof value}`;
}

/** Dots address nested values in filters, so a dotted key could never be filtered on. */
function metadataKeyProblem(key: string): string | null {
  if (key.length === 0) return 'keys cannot be empty';
  if (key.startsWith('$')) return `key "${key}" cannot start with $`;
  if (key.includes('.') || key.includes('"')) return `key "${key}" cannot contain a dot or a double quote`;
  return null;
}

function checkMetadata(metadata: unknown, where: string): void {
  if (metadata === undefined) return;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) fail('invalid_metadata', `${where} must be an object`);
  const problem = metadataValueProblem(metadata, 0);
  if (problem) fail('invalid_metadata', `${where} is invalid: ${problem}`);
  const bytes = byteLength(JSON.stringify(metadata));
  if (bytes > VECTORIZE.maxMetadataBytes) fail('metadata_too_large', `${where} is ${bytes} bytes of JSON; Vectorize allows ${VECTORIZE.maxMetadataBytes}`);
}

/** Validates an upsert/insert batch; all vectors must share one dimension count (the index's). */
export function checkVectorsForWrite(vectors: unknown, expectedDimensions?: number): void {
  if (!Array.isArray(vectors)) fail('invalid_vector', 'vectors must be an array');
  const list = vectors as unknown[];
  if (list.length > VECTORIZE.maxUpsertBatch) {
    fail('too_many_vectors', `${list.length} vectors in one call; Vectorize accepts ${VECTORIZE.maxUpsertBatch} per upsert/insert from a Worker`);
  }
  let dimensions = expectedDimensions;
  list.forEach((vector, i) => {
    const where = `vectors[${i}]`;
    if (vector === null || typeof vector !== 'object') return fail('invalid_vector', `${where} must be an object`);
    const v = vector as VectorizeVector;
    checkId(v.id, `${where}.id`);
    dimensions = checkValues(v.values, `${where}.values`, dimensions);
    checkNamespace(v.namespace, `${where}.namespace`);
    checkMetadata(v.metadata, `${where}.metadata`);
  });
}

export function checkQueryOptions(options: VectorizeQueryOptions | undefined): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') fail('invalid_options', 'query options must be an object');
  const { topK, returnValues, returnMetadata, namespace, filter } = options;
  if (returnValues !== undefined && typeof returnValues !== 'boolean') fail('invalid_options', 'returnValues must be a boolean');
  if (returnMetadata !== undefined && ![true, false, 'none', 'indexed', 'all'].includes(returnMetadata)) {
    fail('invalid_options', `returnMetadata must be 'none', 'indexed' or 'all'`);
  }
  if (topK !== undefined) {
    const heavy = returnValues === true || returnMetadata === 'all' || returnMetadata === true;
    const max = heavy ? VECTORIZE.maxTopKWithMetadata : VECTORIZE.maxTopKWithoutMetadata;
    if (!Number.isInteger(topK) || topK < 1) fail('invalid_top_k', `topK must be a positive integer, got ${topK}`);
    if (topK > max) {
      const why = heavy ? " with returnValues or returnMetadata: 'all'" : '';
      fail('invalid_top_k', `topK is ${topK}; Vectorize allows ${max}${why}`);
    }
  }
  checkNamespace(namespace, 'namespace');
  if (filter !== undefined) {
    const problems = metadataFilterProblems(filter);
    if (problems.length > 0) fail('invalid_filter', `invalid filter: ${problems.join('; ')}`);
  }
}

export function checkQuery(vector: unknown, options: VectorizeQueryOptions | undefined, expectedDimensions?: number): void {
  checkValues(vector, 'query vector', expectedDimensions);
  checkQueryOptions(options);
}

export interface LimitOptions {
  /** The index's dimensions; when known, vectors of any other size are refused before the call. */
  dimensions?: number;
}

/** Any VectorIndex, refusing what Vectorize would refuse before it reaches the index. */
export function withVectorizeLimits(index: VectorIndex, options: LimitOptions = {}): VectorIndex {
  const { dimensions } = options;
  return {
    upsert(vectors) {
      return Promise.resolve().then(() => (checkVectorsForWrite(vectors, dimensions), index.upsert(vectors)));
    },
    insert(vectors) {
      return Promise.resolve().then(() => (checkVectorsForWrite(vectors, dimensions), index.insert(vectors)));
    },
    query(vector, queryOptions) {
      return Promise.resolve().then(() => (checkQuery(vector, queryOptions, dimensions), index.query(vector, queryOptions)));
    },
    queryById(vectorId, queryOptions) {
      return Promise.resolve().then(() => {
        checkId(vectorId, 'vectorId');
        checkQueryOptions(queryOptions);
        return index.queryById(vectorId, queryOptions);
      });
    },
    getByIds(ids) {
      return Promise.resolve().then(() => (checkIds(ids, 'getByIds'), index.getByIds(ids)));
    },
    deleteByIds(ids) {
      return Promise.resolve().then(() => (checkIds(ids, 'deleteByIds'), index.deleteByIds(ids)));
    },
    describe() {
      return index.describe();
    },
  };
}
