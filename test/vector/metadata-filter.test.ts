import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  compileMetadataFilter,
  indexedMetadataAsObject,
  metadataFilterProblems,
  projectIndexedMetadata,
  truncateUtf8,
  type MetadataIndexSpec,
} from '../../src/vector/metadata-filter';

const encoder = new TextEncoder();
const INDEXES: MetadataIndexSpec[] = [
  { propertyName: 'botId', type: 'string' },
  { propertyName: 'page', type: 'number' },
  { propertyName: 'author.id', type: 'string' },
];

describe('metadata filter validation', () => {
  it('accepts what Vectorize documents', () => {
    for (const filter of [
      { botId: 'bot_1' },
      { botId: null },
      { 'author.id': { $ne: true } },
      { page: { $in: [1, 2, null] }, botId: { $nin: ['a'] } },
      { page: { $gte: 1, $lt: 10 } },
      { botId: { $gt: 'a', $lte: 'm' } },
    ]) {
      expect(metadataFilterProblems(filter), JSON.stringify(filter)).toEqual([]);
    }
  });

  it('names every problem it finds', () => {
    expect(metadataFilterProblems({})).toEqual(['filter must not be empty (omit it instead)']);
    expect(metadataFilterProblems([])).toEqual(['filter must be an object']);
    expect(metadataFilterProblems({ $and: [] })[0]).toContain('cannot start with $');
    expect(metadataFilterProblems({ 'a"b': 1 })[0]).toContain('double quote');
    expect(metadataFilterProblems({ 'a..b': 1 })[0]).toContain('empty segment');
    expect(metadataFilterProblems({ ['k'.repeat(513)]: 1 })[0]).toContain('longer than 512');
    expect(metadataFilterProblems({ tags: ['a', 'b'] })[0]).toContain('use $in for lists');
    expect(metadataFilterProblems({ page: { $exists: true } })[0]).toContain('unknown operator $exists');
    expect(metadataFilterProblems({ page: { $in: 'a' } })[0]).toContain('array');
    expect(metadataFilterProblems({ page: { $lt: true } })[0]).toContain('string or a number');
    expect(metadataFilterProblems({ page: { $gt: 1, $gte: 2 } })[0]).toContain('only a lower bound');
    expect(metadataFilterProblems({ page: {} })[0]).toContain('no operator');
    expect(metadataFilterProblems({ page: Number.NaN })[0]).toContain('must be a string, number, boolean, null');
  });

  it('measures the 2 KB limit on compact JSON', () => {
    const atLimit = { botId: 'x'.repeat(2048 - '{"botId":""}'.length) };
    expect(encoder.encode(JSON.stringify(atLimit)).length).toBe(2048);
    expect(metadataFilterProblems(atLimit)[0]).toContain('less than 2048');
    expect(metadataFilterProblems({ botId: 'x'.repeat(2047 - '{"botId":""}'.length) })).toEqual([]);
  });
});

describe('metadata filter evaluation', () => {
  const test = (filter: VectorizeVectorMetadataFilter, metadata: Record<string, unknown> | undefined) => {
    const compiled = compileMetadataFilter(filter, INDEXES);
    if (compiled.kind !== 'predicate') return compiled.kind === 'all';
    return compiled.test(projectIndexedMetadata(metadata, INDEXES));
  };

  it('treats a missing property as null', () => {
    expect(test({ botId: null }, {})).toBe(true);
    expect(test({ botId: { $ne: null } }, {})).toBe(false);
    expect(test({ botId: { $ne: 'x' } }, {})).toBe(true);
    expect(test({ botId: { $in: ['x', null as never] } }, {})).toBe(true); // documented, though workers-types omit null here
    expect(test({ botId: { $nin: ['x'] } }, {})).toBe(true);
    expect(test({ page: { $lt: 100 } }, {})).toBe(false);
  });

  it('does not index values of another type than the index', () => {
    expect(projectIndexedMetadata({ botId: 42, page: '3' }, INDEXES)).toBeUndefined();
    expect(test({ page: 3 }, { page: '3' })).toBe(false);
    expect(test({ page: { $gt: '1' } }, { page: 3 })).toBe(false);
  });

  it('matches nothing when a filtered property has no index', () => {
    expect(compileMetadataFilter({ title: 'x' }, INDEXES)).toEqual({ kind: 'none' });
    expect(compileMetadataFilter({ botId: 'x', title: { $ne: 'y' } }, INDEXES)).toEqual({ kind: 'none' });
    expect(compileMetadataFilter(undefined, INDEXES)).toEqual({ kind: 'all' });
  });

  it('compares strings on their first 64 bytes, as string metadata indexes store them', () => {
    const long = 'a'.repeat(64);
    expect(projectIndexedMetadata({ botId: `${long}-tail` }, INDEXES)).toEqual({ botId: long });
    expect(test({ botId: `${long}-other-tail` }, { botId: `${long}-tail` })).toBe(true);
  });

  it('reaches nested values with dotted property names and gives them back nested', () => {
    const indexed = projectIndexedMetadata({ author: { id: 'u1', name: 'Ann' }, page: 2 }, INDEXES);
    expect(indexed).toEqual({ 'author.id': 'u1', page: 2 });
    expect(indexedMetadataAsObject(indexed, ['author.id', 'page'])).toEqual({ author: { id: 'u1' }, page: 2 });
    expect(indexedMetadataAsObject(indexed, ['page'])).toEqual({ page: 2 });
  });
});

describe('truncateUtf8', () => {
  it('keeps the longest well-formed UTF-8 prefix within the byte budget', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.integer({ min: 0, max: 80 }), (text, max) => {
        const cut = truncateUtf8(text, max);
        const whole = encoder.encode(text);
        const bytes = encoder.encode(cut);
        if (whole.length <= max) return cut === text;
        const isPrefix = bytes.every((b, i) => b === whole[i]);
        // Within budget, and only a character split by the budget is dropped.
        return isPrefix && bytes.length <= max && bytes.length > max - 4;
      }),
    );
    expect(truncateUtf8('é'.repeat(40))).toBe('é'.repeat(32));
    expect(truncateUtf8('€'.repeat(30))).toBe('€'.repeat(21));
  });
});
