/**
 * Calibration of `relevance` (issue #7): what chat's abstention threshold reads. These pin the
 * behaviour the threshold relies on: a question the bot's knowledge cannot answer stays under
 * it, an answerable one asked in other inflections stays over it, and the number does not
 * depend on the mode or the embedder that found the hit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combineEvidence, coverageScorer, similarityEvidence, termWeight, COSINE_RANGES, type EmbedderFamily } from '../../../src/features/knowledge/retrieval/relevance';
import { queryTerms, type QueryTermStats } from '../../../src/features/knowledge/retrieval/term-stats';
import { prefixFormOf, sameWord, stemOf } from '../../../src/lib/text/word-forms';
import { queryWords } from '../../../src/features/knowledge/retrieval/query-terms';
import { DEFAULT_ABSTAIN_RELEVANCE } from '../../../src/limits';
import { framingWords } from '../../../src/lib/text/question-framing';

/** Term statistics as the index would report them for `query` in a bot of `n` chunks. */
function statsFor(query: string, df: Record<string, number>, n: number): QueryTermStats {
  const terms = queryTerms(query);
  return {
    ...terms,
    wordStats: terms.words.map((w) => ({ df: df[w.join(' ')] ?? 0, n })),
    gramStats: terms.grams.map((g) => ({ df: df[g] ?? 0, n })),
    chunkCount: n,
  };
}

/** Relevance of one hit: coverage, and the cosine when a vector search scored it. */
const relevanceOf = (stats: QueryTermStats, text: string, cosine?: number, family: EmbedderFamily = 'offline') =>
  combineEvidence(coverageScorer(stats)(text), cosine === undefined ? undefined : similarityEvidence(cosine, family));

const REFUNDS = 'Refunds: an annual subscription cancelled within 30 days is refunded in full to the card that paid for it.';

describe('word forms', () => {
  it.each([
    ['running', 'run'],
    ['refunded', 'refunds'],
    ['cancelled', 'cancel'],
    ['gutscheine', 'gutschein'],
    ['devolucion', 'devoluciones'],
    ['zutaten', 'zutatenliste'],
    ['brot', 'buchweizenbrot'],
    ['policies', 'policy'],
    ['akzeptiert', 'akzeptieren'],
    ['inhibitors', 'inhibit'],
  ])('"%s" and "%s" are one word', (a, b) => {
    expect(sameWord(a, b)).toBe(true);
    expect(sameWord(b, a)).toBe(true);
  });

  it.each([
    ['port', 'support'],
    ['mail', 'email'],
    ['news', 'new'],
    ['card', 'care'],
    ['cars', 'car'],
    ['popular', 'populations'],
    ['organic', 'organisations'],
    ['nepali', 'nepal'],
  ])('"%s" and "%s" stay different words (no over-stemming)', (a, b) => {
    expect(sameWord(a, b)).toBe(false);
  });

  it('never cuts a word below three letters or to something it does not begin with, and asks the index for a prefix only when the stem is long', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,14}$/), (w) => {
        expect(stemOf(w).length).toBeGreaterThanOrEqual(Math.min(w.length, 3));
        expect(w.startsWith(stemOf(w))).toBe(true);
      }),
    );
    expect(prefixFormOf('gutscheine')).toBe('gutschein');
    expect(prefixFormOf('cards')).toBeNull();
  });

  it('a stem prefixes only words that extend it by a known ending or by a word of its own', () => {
    // "populations" → "popul": "popular" continues it with "ar", no ending.
    expect(stemOf('populations')).toBe('popul');
    expect(sameWord('popular', 'populations')).toBe(false);
    // Derivational endings the stemmer keeps still join a word to its base.
    expect(sameWord('inhibit', 'inhibitors')).toBe(true);
    expect(sameWord('cancel', 'cancellation')).toBe(true);
    // A cut stem followed by a word of its own: a compound.
    expect(sameWord('gutscheine', 'gutscheincode')).toBe(true);
  });

  it('question frames (what year, the name of, what is X called, how long, how does X work, in welchem Jahr, wie lange, en qué año, cómo se llama) are not query terms; the same words outside a frame are', () => {
    const words = (q: string) => queryTerms(q).words.map((w) => w.join(' '));
    expect(words('In what year was the Great Wall declared a UNESCO World Heritage Site?')).not.toContain('year');
    expect(words('What was the name of the first aqueduct in Rome?')).toEqual(['first', 'aqueduct', 'rome']);
    expect(words('What is Mount Everest called in Nepali?')).toEqual(['mount', 'everest', 'nepali']);
    expect(words('What kind of fruit was it found on?')).toEqual(['fruit', 'found']);
    expect(words('In welchem Jahr wurde das Café eröffnet?')).toEqual(['wurde', 'cafe', 'eroffnet']);
    expect(words('¿En qué año se fundó el taller?')).toEqual(['fundo', 'taller']);
    expect([...framingWords('como se llama el taller?')]).toEqual(['llama']);
    // Duration, frequency and age: the answer says "30 days" or "monthly", never "long".
    expect(words('How long are vouchers valid?')).toEqual(['vouchers', 'valid']);
    expect(words('How often should the feed be rinsed?')).toEqual(['feed', 'rinsed']);
    expect(words('Wie lange sind Gutscheine gültig?')).toEqual(['gutscheine', 'gultig']);
    expect(words('¿Cuánto tiempo tarda el envío?')).toEqual(['tarda', 'envio']);
    expect(words('Combien de temps dure la livraison ?')).toEqual(['dure', 'livraison']);
    expect(words('Is the long cable included?')).toContain('long');
    // "How does X work": an explanation of X is wanted, and it rarely says "works".
    expect(words('How does hybrid search work?')).toEqual(['hybrid', 'search']);
    expect(words('Wie funktioniert die Lieferung?')).toEqual(['lieferung']);
    expect(words('¿Cómo funciona el envío?')).toEqual(['envio']);
    expect(words('Where do I work on drafts?')).toContain('work');
    // Outside a frame the word is what the question is about.
    expect(words('How do I change the name of my bot?')).toContain('name');
    expect(words('Who called the meeting?')).toContain('called');
    expect(words('Which year-end reports exist?')).toContain('year end');
    // A query made only of a frame keeps it.
    expect(words('What year?')).toEqual(['year']);
  });

  it('an answerable crowd-style question stays above the threshold on its paragraph although the paragraph never says "year"', () => {
    const paragraph = 'Pompeii was rediscovered in 1748, and its excavation revealed streets and houses preserved almost intact.';
    // "year" is common in an encyclopedia (df 12 of 30) but this paragraph lacks it; it no longer counts against it.
    const stats = statsFor('In what year was Pompeii rediscovered?', { year: 12, pompeii: 1, rediscovered: 1 }, 30);
    expect(stats.words.map((w) => w.join(' '))).toEqual(['pompeii', 'rediscovered']);
    expect(coverageScorer(stats)(paragraph)).toBe(1);
  });

  it('drops question words, auxiliaries and quantifiers of every supported language', () => {
    expect(queryWords('How much does it cost?')).toEqual([['cost']]);
    expect(queryWords('Wie viele Plätze hat das Café?')).toEqual([['platze'], ['cafe']]);
    expect(queryWords('¿Cuánto cuesta el envío?')).toEqual([['cuesta'], ['envio']]);
  });
});

describe('calibrated relevance', () => {
  it('a question whose content words the bot never uses scores under the threshold, even at the embedder noise floor', () => {
    const stats = statsFor('What is the recipe for a classic margherita pizza?', {}, 40);
    for (const family of Object.keys(COSINE_RANGES) as EmbedderFamily[]) {
      expect(coverageScorer(stats)(REFUNDS)).toBe(0);
      expect(relevanceOf(stats, REFUNDS, COSINE_RANGES[family].unrelated, family)).toBeLessThan(DEFAULT_ABSTAIN_RELEVANCE);
    }
  });

  it('a question that shares only the ubiquitous product name with the bot scores under the threshold', () => {
    const stats = statsFor('Can Orbitly send faxes?', { orbitly: 40, send: 12 }, 40);
    expect(relevanceOf(stats, `Orbitly can send email. ${REFUNDS}`)).toBeLessThan(DEFAULT_ABSTAIN_RELEVANCE);
  });

  it('a paraphrase in other inflections scores above the threshold on the chunk that answers it', () => {
    const stats = statsFor('Can cancelled annual subscriptions be refunded?', { cancelled: 3, annual: 2, subscriptions: 4, refunded: 2 }, 40);
    expect(relevanceOf(stats, REFUNDS)).toBeGreaterThanOrEqual(DEFAULT_ABSTAIN_RELEVANCE);
  });

  it('a paraphrase keeps its answer above the threshold despite one word the bot never uses', () => {
    // "regret" is the asker's word; the page never says it.
    const stats = statsFor('Refund an annual subscription I regret', { refund: 2, annual: 2, subscription: 4 }, 40);
    expect(relevanceOf(stats, REFUNDS)).toBeGreaterThanOrEqual(DEFAULT_ABSTAIN_RELEVANCE);
  });

  it('a German compound question is covered by the page that names its head word', () => {
    const stats = statsFor('Ist das Brot glutenfrei?', { brot: 0, glutenfrei: 1 }, 5);
    expect(relevanceOf(stats, 'Unser glutenfreies Sortiment: das Buchweizenbrot „Heidekorn“.')).toBeGreaterThanOrEqual(DEFAULT_ABSTAIN_RELEVANCE);
  });

  it('a word the bot never uses weighs like the rarest word it does use, and rarer words weigh more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 100_000 }), (n) => {
        expect(termWeight(0, n)).toBe(termWeight(1, n));
        expect(termWeight(1, n)).toBeGreaterThan(termWeight(2, n));
        expect(termWeight(n, n)).toBeLessThan(termWeight(1, n));
      }),
    );
  });

  it('containing more of the query never lowers a chunk’s relevance, and relevance stays in [0, 1]', () => {
    const words = ['refund', 'annual', 'subscription', 'card', 'invoice', 'export', 'webhook'];
    fc.assert(
      fc.property(
        fc.subarray(words, { minLength: 1 }),
        fc.subarray(words),
        fc.subarray(words),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: words.length, maxLength: words.length }),
        (query, some, more, dfs) => {
          const stats = statsFor(query.join(' '), Object.fromEntries(words.map((w, i) => [w, dfs[i]!])), 50);
          const score = coverageScorer(stats);
          const less = score(some.join(' '))!;
          const most = score([...some, ...more].join(' '))!;
          expect(most).toBeGreaterThanOrEqual(less);
          expect(less).toBeGreaterThanOrEqual(0);
          expect(most).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('the same chunk gets the same coverage whatever mode found it, and each embedder family maps its own cosine range onto the same scale', () => {
    const stats = statsFor('Can cancelled annual subscriptions be refunded?', { cancelled: 3, annual: 2, subscriptions: 4, refunded: 2 }, 40);
    // Keyword, vector and hybrid all score one chunk text with the same scorer; only the
    // cosine (present when the vector side saw the hit) can add evidence.
    expect(coverageScorer(stats)(REFUNDS)).toBe(coverageScorer(stats)(REFUNDS));
    for (const family of Object.keys(COSINE_RANGES) as EmbedderFamily[]) {
      const { unrelated, paraphrase } = COSINE_RANGES[family];
      expect(similarityEvidence(unrelated, family)).toBe(0);
      expect(similarityEvidence(paraphrase, family)).toBe(1);
      expect(relevanceOf(stats, REFUNDS, unrelated, family)).toBe(relevanceOf(stats, REFUNDS));
    }
  });
});
