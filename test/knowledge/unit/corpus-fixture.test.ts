/**
 * Keeps the retrieval corpus honest: gold files exist, exact-term questions really contain a
 * term of their gold document, and paraphrased questions really avoid their gold document's
 * words (otherwise they would not test what vector search adds over keywords).
 */
import { describe, expect, it } from 'vitest';
import questionSet from '../../fixtures/corpus/questions.json';

const documents = Object.fromEntries(
  Object.entries(
    (import.meta as ImportMeta & { glob(pattern: string, options: object): Record<string, string> }).glob('../../fixtures/corpus/*.md', {
      query: '?raw',
      import: 'default',
      eager: true,
    }),
  ).map(([path, text]) => [path.split('/').pop()!, text]),
);

/** Common words a paraphrase may share with its answer without giving it away. */
const FUNCTION_WORDS = new Set(['about', 'before', 'there', 'their', 'through', 'without', 'which', 'while', 'where', 'account', 'orbitly']);

describe('retrieval corpus fixture', () => {
  const { questions } = questionSet as { questions: { id: string; kind: string; question: string; gold: string[]; terms?: string[] }[] };

  it('has 20-40 documents of 1-4 KB and about 60 questions over all of them', () => {
    const names = Object.keys(documents);
    expect(names.length).toBeGreaterThanOrEqual(20);
    expect(names.length).toBeLessThanOrEqual(40);
    for (const name of names) {
      const bytes = new TextEncoder().encode(documents[name]).length;
      expect(bytes, name).toBeGreaterThanOrEqual(1000);
      expect(bytes, name).toBeLessThanOrEqual(4096);
    }
    expect(questions.length).toBeGreaterThanOrEqual(55);
    expect(new Set(questions.flatMap((question) => question.gold))).toEqual(new Set(names));
    expect(new Set(questions.map((question) => question.id)).size).toBe(questions.length);
  });

  it('names only existing gold documents', () => {
    for (const question of questions) {
      expect(question.gold.length, question.id).toBeGreaterThan(0);
      for (const gold of question.gold) expect(documents, question.id).toHaveProperty([gold]);
    }
  });

  it('gives every exact-term question a term found verbatim in a gold document', () => {
    const exact = questions.filter((question) => question.kind === 'exact-term');
    expect(exact.length).toBeGreaterThanOrEqual(20);
    for (const question of exact) {
      expect(question.terms?.length, question.id).toBeGreaterThan(0);
      expect(question.terms!.some((term) => question.question.includes(term)), question.id).toBe(true);
      for (const term of question.terms!) {
        expect(question.gold.some((gold) => documents[gold]!.includes(term)), `${question.id}: ${term}`).toBe(true);
      }
    }
  });

  it('keeps paraphrased questions free of their gold documents’ words', () => {
    const paraphrases = questions.filter((question) => question.kind === 'paraphrase');
    expect(paraphrases.length).toBeGreaterThanOrEqual(20);
    for (const question of paraphrases) {
      const goldText = question.gold.map((gold) => documents[gold]!.toLowerCase()).join(' ');
      const shared = (question.question.toLowerCase().match(/[a-z]{5,}/g) ?? []).filter(
        (word) => !FUNCTION_WORDS.has(word) && new RegExp(`\\b${word}\\b`).test(goldText),
      );
      expect(shared, question.id).toEqual([]);
    }
  });
});
