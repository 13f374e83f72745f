/**
 * Chunk (and vector) ids derive from (document, position): re-running an index slice overwrites
 * the same rows and vectors instead of adding new ones, and a purge can compute every vector id
 * of a document from its chunk count, even for slices whose rows were never written.
 */
export const chunkId = (documentId: string, position: number) => `chk_${documentId.slice(4)}_${position}`;
