/**
 * The three chunking strategies. Each returns chunk spans with their exact token counts and
 * heading paths; chunker.ts turns them into Chunk objects.
 */
import { markdownBlocks, markdownSections, type Block } from './markdown-structure';
import { packAtoms, pieceSplitter, splitToFit, type Splitter } from './packing';
import { sentenceSpans } from './sentences';
import { lineSpans, paragraphSpans, wordSpans } from './text-spans';
import { countTokens, type TokenIndex } from './tokens';
import type { TextSpan } from './types';

export interface PlannedChunk extends TextSpan {
  tokenCount: number;
  headingPath: string[];
  window?: TextSpan;
}

export interface StrategyInput {
  index: TokenIndex;
  chunkTokens: number;
  overlapTokens: number;
  windowSentences: number;
}

const proseSplitters = (index: TokenIndex): Splitter[] => [sentenceSpans, lineSpans, wordSpans, pieceSplitter(index)];
const codeSplitters = (index: TokenIndex): Splitter[] => [lineSpans, wordSpans, pieceSplitter(index)];

/** How contextualText() prefixes a chunk; defined here so budgets can reserve room for it. */
export function headingBreadcrumb(headingPath: readonly string[]): string {
  return headingPath.length ? `${headingPath.join(' > ')}\n\n` : '';
}

/**
 * Budget left for a section's text once its breadcrumb is reserved, so contextualText() stays
 * within chunkTokens. A breadcrumb longer than half the budget is not reserved (the text would
 * get too small); such chunks' contextual text may then exceed chunkTokens.
 */
function sectionBudget(chunkTokens: number, headingPath: readonly string[]): number {
  const reserved = countTokens(headingBreadcrumb(headingPath));
  return reserved <= chunkTokens / 2 ? chunkTokens - reserved : chunkTokens;
}

/** Paragraphs, then sentences, lines, words, tokenizer pieces; no heading awareness. */
export function recursiveChunks({ index, chunkTokens, overlapTokens }: StrategyInput): PlannedChunk[] {
  const atoms: TextSpan[] = [];
  const splitters = proseSplitters(index);
  for (const paragraph of paragraphSpans(index.text, 0, index.text.length)) {
    splitToFit(index, paragraph, chunkTokens, splitters, atoms);
  }
  return packAtoms(index, atoms, chunkTokens, overlapTokens).map((chunk) => ({ ...chunk, headingPath: [] }));
}

function blockAtoms(index: TokenIndex, block: Block, budget: number, out: TextSpan[]) {
  splitToFit(index, block, budget, block.kind === 'code' ? codeSplitters(index) : proseSplitters(index), out);
}

/** Chunks never cross a heading; code fences stay whole unless one alone exceeds the budget. */
export function markdownChunks({ index, chunkTokens, overlapTokens }: StrategyInput): PlannedChunk[] {
  const chunks: PlannedChunk[] = [];
  for (const section of markdownSections(index.text)) {
    const budget = sectionBudget(chunkTokens, section.headingPath);
    const atoms: TextSpan[] = [];
    for (const block of markdownBlocks(index.text, section.start, section.end)) blockAtoms(index, block, budget, atoms);
    for (const chunk of packAtoms(index, atoms, budget, Math.min(overlapTokens, Math.floor(budget / 2)))) {
      chunks.push({ ...chunk, headingPath: section.headingPath });
    }
  }
  return chunks;
}

interface Sentence extends TextSpan {
  tokenCount: number;
  kind: Block['kind'];
}

/**
 * One chunk per sentence (code blocks count as one sentence), each carrying a window of up to
 * `windowSentences` neighbours on each side within its section. Neighbours larger than the
 * budget are left out of windows, so a window holds at most (2w + 1) * chunkTokens tokens; a
 * sentence larger than the budget is cut into several chunks whose window is just themselves.
 */
export function sentenceWindowChunks({ index, chunkTokens, windowSentences }: StrategyInput): PlannedChunk[] {
  const chunks: PlannedChunk[] = [];
  for (const section of markdownSections(index.text)) {
    const budget = sectionBudget(chunkTokens, section.headingPath);
    const sentences: Sentence[] = [];
    for (const block of markdownBlocks(index.text, section.start, section.end)) {
      const spans = block.kind === 'code' ? [block] : sentenceSpans(index.text, block.start, block.end);
      for (const { start, end } of spans) {
        sentences.push({ start, end, tokenCount: index.count(start, end), kind: block.kind });
      }
    }
    const fits = (k: number) => sentences[k]!.tokenCount <= budget;
    sentences.forEach((sentence, k) => {
      if (!fits(k)) {
        const atoms: TextSpan[] = [];
        blockAtoms(index, sentence, budget, atoms);
        for (const piece of packAtoms(index, atoms, budget, 0)) {
          chunks.push({ ...piece, headingPath: section.headingPath, window: { start: piece.start, end: piece.end } });
        }
        return;
      }
      let first = k;
      while (first > 0 && k - first < windowSentences && fits(first - 1)) first--;
      let last = k;
      while (last < sentences.length - 1 && last - k < windowSentences && fits(last + 1)) last++;
      chunks.push({
        start: sentence.start,
        end: sentence.end,
        tokenCount: sentence.tokenCount,
        headingPath: section.headingPath,
        window: { start: sentences[first]!.start, end: sentences[last]!.end },
      });
    });
  }
  return chunks;
}
