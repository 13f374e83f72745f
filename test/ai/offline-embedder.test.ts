import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createEmbedder } from '../../src/ai/create-embedder';
import { OfflineHashEmbedder, OFFLINE_EMBEDDING_DIMENSIONS } from '../../src/ai/offline-embedder';
import { hashString } from '../../src/lib/hash';
import { OpenAICompatibleEmbedder } from '../../src/ai/openai-embedder';
import { extractFeatures, stemWord, tokenizeWords } from '../../src/ai/text-features';

const embedder = new OfflineHashEmbedder();
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);
const norm = (v: Float32Array) => Math.sqrt(cosine(v, v));
const similarity = (a: string, b: string) => cosine(embedder.embedText(a), embedder.embedText(b));

describe('offline hashed embedder', () => {
  it('is the default provider when no API key is configured', () => {
    const chosen = createEmbedder({});
    expect(chosen).toBeInstanceOf(OfflineHashEmbedder);
    expect(chosen.dimensions).toBe(OFFLINE_EMBEDDING_DIMENSIONS);
    expect(chosen.id).toBe('offline-hash-v2/384');
    expect(createEmbedder({ dimensions: 256 }).id).toBe('offline-hash-v2/256');
    expect(createEmbedder({ apiKey: 'sk-test', model: 'text-embedding-3-small', dimensions: 512 })).toBeInstanceOf(OpenAICompatibleEmbedder);
  });

  it('is deterministic: same text, same vector, in every run (the hash is pinned)', async () => {
    expect(hashString('w:refund')).toBe(2317228571);
    expect(hashString('c:<re')).toBe(2058914932);
    const [a, b] = await embedder.embed(['Refunds take 14 days.', 'Refunds take 14 days.']);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(Array.from(new OfflineHashEmbedder().embedText('Refunds take 14 days.'))).toEqual(Array.from(a!));
  });

  it('returns one unit-length vector per text, in order', async () => {
    const texts = ['How do I reset my password?', 'x', 'Ünïcödé café — naïve façade', '42', 'a '.repeat(2000)];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(texts.length);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(384);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(Array.from(vectors[2]!)).toEqual(Array.from(embedder.embedText('Ünïcödé café — naïve façade')));
  });

  it('is unit length for any text with a word in it, and zero for text without', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), (text) => {
        const v = embedder.embedText(text);
        if (tokenizeWords(text).length === 0) expect(norm(v)).toBe(0);
        else expect(norm(v)).toBeCloseTo(1, 4);
      }),
      { numRuns: 200 },
    );
    expect(norm(embedder.embedText(''))).toBe(0);
    expect(norm(embedder.embedText('?!… —'))).toBe(0);
  });

  it('puts paraphrases closer than unrelated texts', () => {
    const cases: Array<[string, string, string]> = [
      ['How do I reset my password?', 'Steps to reset your account password', 'Our office is closed on public holidays'],
      ['Can I get a refund for my order?', 'Refunds are issued within 14 days of purchase', 'The API rate limit is 600 requests per minute'],
      ['What does shipping to Canada cost?', 'Shipping to Canada costs $15 per parcel', 'Passwords must be at least 10 characters'],
      ['enable two-factor authentication', 'Two-factor authentication is enabled from the Security page', 'Invoices are emailed monthly'],
    ];
    for (const [query, related, unrelated] of cases) {
      const near = similarity(query, related);
      const far = similarity(query, unrelated);
      expect(near, `${query} ~ ${related}`).toBeGreaterThan(far + 0.2);
      expect(Math.abs(far), `${query} vs ${unrelated}`).toBeLessThan(0.15);
    }
  });

  it('matches word forms and survives typos through stems and character trigrams', () => {
    expect(similarity('refunds', 'refund')).toBeGreaterThan(0.85);
    expect(similarity('installing the widget', 'install widget')).toBeGreaterThan(0.8);
    expect(similarity('authentication', 'authentification')).toBeGreaterThan(0.4);
    expect(similarity('authentication', 'shipping')).toBeLessThan(0.15);
  });

  it('lets shared content words count, not shared stopwords', () => {
    const sharedStopwords = similarity('what is the price of the plan', 'what is the color of the sky');
    const sharedContent = similarity('what is the price of the plan', 'plan price');
    expect(sharedContent).toBeGreaterThan(0.6);
    expect(sharedStopwords).toBeLessThan(0.15);
  });

  it('keeps word order through bigrams of neighbouring content words', () => {
    const features = extractFeatures('Reset my password, then reset it again');
    expect(features.get('b:reset password')).toBeCloseTo(0.6);
    expect(features.get('w:reset')).toBeCloseTo(1 + Math.log(2)); // sublinear tf
    expect(features.get('w:my')).toBeLessThan(0.1);
    expect(similarity('dog bites man', 'man bites dog')).toBeLessThan(0.95);
  });

  it('stems plurals and verb endings consistently', () => {
    const groups = [
      ['refund', 'refunds', 'refunded', 'refunding'],
      ['policy', 'policies'],
      ['install', 'installs', 'installed', 'installing'],
      ['match', 'matches'],
      ['stop', 'stopped', 'stopping'],
    ];
    for (const group of groups) expect(new Set(group.map(stemWord)).size, group.join(', ')).toBe(1);
    expect(stemWord('status')).toBe('status');
    expect(stemWord('class')).toBe('class');
    expect(stemWord('v2s')).toBe('v2s');
  });

  it('honours abort signals', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(embedder.embed(['text'], { signal: controller.signal })).rejects.toThrow('stop');
  });
});

describe('offline embedder thesaurus concepts', () => {
  const embedder = new OfflineHashEmbedder();
  const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);

  it('puts paraphrases that share no words closer than an unrelated text', () => {
    const doc = embedder.embedText('Refunds are issued to the original payment card within ten days.');
    const paraphrase = embedder.embedText('Can I get my money back?');
    const unrelated = embedder.embedText('Can I get a bigger monitor for the office?');
    expect(cosine(doc, paraphrase)).toBeGreaterThan(cosine(doc, unrelated) + 0.05);
  });

  it('reads two-word phrases as one concept', () => {
    const doc = embedder.embedText('Authenticate with your corporate credentials.');
    expect(cosine(doc, embedder.embedText('how do I sign in'))).toBeGreaterThan(cosine(doc, embedder.embedText('how do I sign up')));
  });
});
