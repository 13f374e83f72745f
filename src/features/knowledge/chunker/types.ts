/** A tuple, so a bot config schema can use it directly: z.enum(CHUNK_STRATEGIES). */
export const CHUNK_STRATEGIES = ['recursive', 'markdown', 'sentence-window'] as const;

export type ChunkStrategy = (typeof CHUNK_STRATEGIES)[number];

/** A half-open range of UTF-16 code units in the source text: text.slice(start, end). */
export interface TextSpan {
  start: number;
  end: number;
}

export interface ChunkOptions {
  strategy: ChunkStrategy;
  /** Hard cap on a chunk's tokens (cl100k_base); see Chunk.tokenCount. */
  chunkTokens: number;
  /** recursive / markdown: tokens repeated from the end of the previous chunk (a target, not exact). */
  overlapTokens?: number;
  /** sentence-window: sentences on each side of a chunk that make up its window. */
  windowSentences?: number;
}

export interface Chunk {
  /** Position of the chunk in the document, from 0. */
  index: number;
  /** Exactly source.slice(start, end): never rewritten, so offsets can highlight the source. */
  text: string;
  start: number;
  end: number;
  /** cl100k_base tokens of `text` on its own (see countTokens for the one bound); <= chunkTokens. */
  tokenCount: number;
  /** Titles of the enclosing headings, outermost first (markdown and sentence-window). */
  headingPath: string[];
  /** sentence-window: the neighbouring sentences (same section), for the answerer. */
  window?: TextSpan & { text: string };
}
