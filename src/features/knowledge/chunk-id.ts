/** Chunk and vector ids derive from (document, position), so re-running any indexing step overwrites instead of duplicating. */
export const chunkId = (documentId: string, position: number) => `chk_${documentId.slice(4)}_${position}`;
