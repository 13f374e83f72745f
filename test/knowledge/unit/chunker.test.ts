import fc from 'fast-check';
import { countTokens as libraryCountTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { answerText, chunkText, contextualText, countTokens, type Chunk, type ChunkOptions, type ChunkStrategy } from '../../../src/features/knowledge/chunker';
import { CL100K_PATTERN_SOURCE } from '../../../src/features/knowledge/chunker/cl100k-pretokenizer';
import { LONG_PIECE_CHARS } from '../../../src/features/knowledge/chunker/tokens';

const plainText = { disallowedSpecial: new Set<string>() };
const library = (text: string) => libraryCountTokens(text, plainText);
const splitRegex = new RegExp(CL100K_PATTERN_SOURCE, 'gu');
const hasLongPiece = (text: string) => [...text.matchAll(splitRegex)].some(([piece]) => piece.length > LONG_PIECE_CHARS);
const WHITESPACE = /[\s\u0085]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const sentence = (words: number, seed = 0) =>
  `${Array.from({ length: words }, (_, i) => ['billing', 'webhook', 'token', 'export', 'region', 'quota'][(i + seed) % 6]).join(' ')}.`
    .replace(/^./, (c) => c.toUpperCase());

/** Markdown-ish documents: headings, paragraphs, lists, fences, huge words, unicode, odd spacing. */
const documentArbitrary = fc
  .array(
    fc.oneof(
      fc.lorem({ mode: 'sentences', maxCount: 6 }),
      fc.lorem({ mode: 'words', maxCount: 40 }),
      fc.constantFrom('# Install', '## Linux', '### Deep *title*', 'Title\n=====', '- item one\n- item two', '| a | b |\n|---|---|\n| 1 | 2 |'),
      fc.lorem({ maxCount: 30 }).map((code) => '```\n' + code.replace(/ /g, '\n') + '\n```'),
      fc.integer({ min: 1, max: 3000 }).map((n) => 'x'.repeat(n)),
      fc.constantFrom('😀'.repeat(300), 'é'.repeat(500), '日本語の文章です。'.repeat(40), '<|endoftext|>', '\u00a0\u3000', '...!!!???'),
      fc.string({ maxLength: 60 }),
    ),
    { maxLength: 25 },
  )
  .chain((blocks) => fc.constantFrom('\n\n', '\n', ' ', '\r\n\r\n', '\n \n\t').map((separator) => blocks.join(separator)));

const optionsArbitrary = fc.record({
  strategy: fc.constantFrom<ChunkStrategy>('recursive', 'markdown', 'sentence-window'),
  chunkTokens: fc.integer({ min: 32, max: 400 }),
  overlapFraction: fc.double({ min: 0, max: 0.5, noNaN: true }),
  windowSentences: fc.integer({ min: 0, max: 3 }),
}).map(({ overlapFraction, ...rest }): ChunkOptions => ({ ...rest, overlapTokens: Math.floor(rest.chunkTokens * overlapFraction) }));

function checkInvariants(text: string, options: ChunkOptions, chunks: Chunk[]) {
  let previousEnd = 0;
  let newContent = '';
  chunks.forEach((chunk, position) => {
    expect(chunk.index).toBe(position);
    expect(chunk.start).toBeLessThan(chunk.end);
    expect(chunk.text).toBe(text.slice(chunk.start, chunk.end));
    expect(chunk.text).toBe(chunk.text.replace(/^[\s\u0085]+|[\s\u0085]+$/g, ''));
    expect(chunk.tokenCount).toBe(countTokens(chunk.text));
    // Exact, except that runs no natural text has are over-counted (see LONG_PIECE_CHARS).
    if (hasLongPiece(chunk.text)) expect(chunk.tokenCount).toBeGreaterThanOrEqual(library(chunk.text));
    else expect(chunk.tokenCount).toBe(library(chunk.text));
    expect(chunk.tokenCount).toBeLessThanOrEqual(options.chunkTokens);
    expect(chunk.text).not.toMatch(LONE_SURROGATE);
    expect(chunk.end).toBeGreaterThan(previousEnd);
    if (chunk.window) {
      expect(chunk.window.start).toBeLessThanOrEqual(chunk.start);
      expect(chunk.window.end).toBeGreaterThanOrEqual(chunk.end);
      expect(chunk.window.text).toBe(text.slice(chunk.window.start, chunk.window.end));
    }
    newContent += text.slice(Math.max(chunk.start, previousEnd), chunk.end);
    previousEnd = chunk.end;
  });
  // The parts that no earlier chunk already held, in order, are the whole document.
  expect(newContent.replace(WHITESPACE, '')).toBe(text.replace(WHITESPACE, ''));
}

describe('chunkText invariants (property-based)', () => {
  it('exact offsets, exact token counts within the budget, in order, covering all content', () => {
    fc.assert(
      fc.property(documentArbitrary, optionsArbitrary, (text, options) => {
        checkInvariants(text, options, chunkText(text, options));
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(documentArbitrary, optionsArbitrary, (text, options) => {
        expect(chunkText(text, options)).toEqual(chunkText(text, options));
      }),
      { numRuns: 50 },
    );
  });

  it('keeps the breadcrumbed text within the budget for heading-aware strategies', () => {
    fc.assert(
      fc.property(documentArbitrary, optionsArbitrary, (text, options) => {
        if (options.strategy === 'recursive') return;
        for (const chunk of chunkText(text, options)) {
          const breadcrumb = chunk.headingPath.join(' > ');
          if (countTokens(breadcrumb + '\n\n') * 2 > options.chunkTokens) continue;
          expect(countTokens(contextualText(chunk))).toBeLessThanOrEqual(options.chunkTokens);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('recursive strategy', () => {
  it('returns nothing for blank text and one trimmed chunk for short text', () => {
    expect(chunkText('  \n\n ', { strategy: 'recursive', chunkTokens: 64 })).toEqual([]);
    const [only, ...rest] = chunkText('\n  Hello there.  \n', { strategy: 'recursive', chunkTokens: 64 });
    expect(rest).toEqual([]);
    expect(only).toEqual({ index: 0, text: 'Hello there.', start: 3, end: 15, tokenCount: 3, headingPath: [] });
  });

  it('packs whole paragraphs, then fills up with sentences of a paragraph too long for one chunk', () => {
    const paragraphs = [sentence(10), sentence(10, 1), Array.from({ length: 12 }, (_, i) => sentence(12, i)).join(' ')];
    const text = paragraphs.join('\n\n');
    const chunks = chunkText(text, { strategy: 'recursive', chunkTokens: 40, overlapTokens: 0 });
    expect(chunks[0]!.text.startsWith(`${paragraphs[0]}\n\n${paragraphs[1]}\n\n${sentence(12, 0)}`)).toBe(true);
    for (const chunk of chunks) expect(chunk.text).toMatch(/\.$/);
    expect(chunks.length).toBeGreaterThan(3);
  });

  it('overlaps with whole sentences from the end of the previous chunk', () => {
    const text = Array.from({ length: 30 }, (_, i) => sentence(8, i)).join(' ');
    const chunks = chunkText(text, { strategy: 'recursive', chunkTokens: 60, overlapTokens: 15 });
    expect(chunks.length).toBeGreaterThan(3);
    for (let i = 1; i < chunks.length; i++) {
      const [previous, chunk] = [chunks[i - 1]!, chunks[i]!];
      expect(chunk.start).toBeLessThan(previous.end);
      expect(chunk.start).toBeGreaterThan(previous.start);
      expect(text.slice(chunk.start, previous.end)).toMatch(/^[A-Z].*\.$/);
      expect(countTokens(text.slice(chunk.start, previous.end))).toBeLessThanOrEqual(15 + 10);
    }
  });

  it('has no overlap when overlapTokens is 0', () => {
    const text = Array.from({ length: 30 }, (_, i) => sentence(8, i)).join(' ');
    const chunks = chunkText(text, { strategy: 'recursive', chunkTokens: 60, overlapTokens: 0 });
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.start).toBeGreaterThanOrEqual(chunks[i - 1]!.end);
  });

  it('cuts a huge run with no boundary in linear time, its chunks bounded by the byte count', () => {
    const text = `${'a'.repeat(300_000)} tail`;
    const chunks = chunkText(text, { strategy: 'recursive', chunkTokens: 256, overlapTokens: 32 });
    expect(chunks.length).toBeGreaterThan(1000);
    for (const chunk of chunks.slice(0, 3)) expect(chunk.tokenCount).toBe(chunk.text.length);
    expect(chunks.at(-1)!.text.endsWith('tail')).toBe(true);
  });

  it('cuts a run with no boundary by characters, within the budget, keeping emoji whole', () => {
    const text = `start ${'😀'.repeat(400)}${'a'.repeat(5000)} end`;
    const chunks = chunkText(text, { strategy: 'recursive', chunkTokens: 50, overlapTokens: 0 });
    checkInvariants(text, { strategy: 'recursive', chunkTokens: 50 }, chunks);
    expect(chunks.length).toBeGreaterThan(20);
  });
});

describe('markdown strategy', () => {
  const doc = [
    '# Install',
    'KyroChat runs anywhere.',
    '## Linux',
    'Use the package manager to install it on every server in the cluster.',
    '```sh\n# this is a comment, not a heading\napt install kyrochat\n\napt upgrade\n```',
    '## macOS',
    'Use brew.',
    '# Usage',
    'Start it.',
  ].join('\n\n');

  it('gives chunks their heading path and never crosses a heading', () => {
    const chunks = chunkText(doc, { strategy: 'markdown', chunkTokens: 200, overlapTokens: 0 });
    expect(chunks.map((c) => [c.headingPath, c.text.split('\n')[0]])).toEqual([
      [['Install'], '# Install'],
      [['Install', 'Linux'], '## Linux'],
      [['Install', 'macOS'], '## macOS'],
      [['Usage'], '# Usage'],
    ]);
    expect(contextualText(chunks[2]!)).toBe('Install > macOS\n\n## macOS\n\nUse brew.');
  });

  it('keeps a code fence whole when it fits the budget', () => {
    const chunks = chunkText(doc, { strategy: 'markdown', chunkTokens: 40, overlapTokens: 0 });
    const fence = chunks.find((c) => c.text.includes('apt install'))!;
    expect(fence.text).toContain('```sh\n# this is a comment, not a heading\napt install kyrochat\n\napt upgrade\n```');
    expect(fence.headingPath).toEqual(['Install', 'Linux']);
  });

  it('splits a fence larger than the budget by lines', () => {
    const code = Array.from({ length: 80 }, (_, i) => `line_${i} = compute(${i})`).join('\n');
    const text = `# Code\n\n\`\`\`py\n${code}\n\`\`\``;
    const chunks = chunkText(text, { strategy: 'markdown', chunkTokens: 64, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks.slice(1, -1)) expect(chunk.text).toMatch(/^line_\d+ = compute\(\d+\)(\nline_\d+ = compute\(\d+\))*$/);
  });
});

describe('sentence-window strategy', () => {
  const text = '# FAQ\n\nRefunds take 5 days. Dr. Lee approves them. Contact billing first. Keep the receipt. Done.';

  it('makes one chunk per sentence with a window of neighbours in the section', () => {
    const chunks = chunkText(text, { strategy: 'sentence-window', chunkTokens: 64, windowSentences: 1 });
    expect(chunks.map((c) => c.text)).toEqual(['# FAQ', 'Refunds take 5 days.', 'Dr. Lee approves them.', 'Contact billing first.', 'Keep the receipt.', 'Done.']);
    expect(chunks[2]!.window!.text).toBe('Refunds take 5 days. Dr. Lee approves them. Contact billing first.');
    expect(chunks[5]!.window!.text).toBe('Keep the receipt. Done.');
    expect(chunks[2]!.headingPath).toEqual(['FAQ']);
    expect(answerText(chunks[2]!)).toBe('FAQ\n\nRefunds take 5 days. Dr. Lee approves them. Contact billing first.');
  });

  it('uses the sentence alone as its window when windowSentences is 0', () => {
    const chunks = chunkText(text, { strategy: 'sentence-window', chunkTokens: 64, windowSentences: 0 });
    for (const chunk of chunks) expect(chunk.window!.text).toBe(chunk.text);
  });
});

describe('options', () => {
  it('rejects sizes a bot config must never hold', () => {
    expect(() => chunkText('x', { strategy: 'recursive', chunkTokens: 8 })).toThrow(RangeError);
    expect(() => chunkText('x', { strategy: 'recursive', chunkTokens: 100, overlapTokens: 60 })).toThrow(/overlapTokens/);
    expect(() => chunkText('x', { strategy: 'semantic' as ChunkStrategy, chunkTokens: 100 })).toThrow(/strategy/);
    expect(() => chunkText('x', { strategy: 'recursive', chunkTokens: 100.5 })).toThrow(RangeError);
  });
});
