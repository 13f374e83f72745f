/**
 * Retrieval quality (issue #7): score-aware fusion, calibrated relevance, the optional
 * reranker (the test site's fake /rerank endpoint, reached through WEB_FETCHER), and keyword
 * search beyond English (diacritics folding, trigram index for spaceless scripts).
 */
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADAPTIVE_VECTOR_WEIGHT, adaptiveVectorWeight, convexFusion, minMaxNormalize, reciprocalRankFusion } from '../../src/features/knowledge/retrieval/fusion';
import { rerankRelevance } from '../../src/features/knowledge/retrieval/rerank';
import { combineEvidence, coverageScorer, similarityEvidence } from '../../src/features/knowledge/retrieval/relevance';
import { queryTerms, type QueryTermStats } from '../../src/features/knowledge/retrieval/term-stats';
import { DEFAULT_ABSTAIN_RELEVANCE } from '../../src/limits';
import { foldForSearch, hasSpacelessScript } from '../../src/lib/text/text-fold';
import { call, expectProblem, register, type Account } from '../support/api';
import { addText, searchBot, waitForSource } from '../support/knowledge';

type Hit = { chunkId: string; score: number; relevance: number; text: string; ranks: { vector?: number; keyword?: number; rerank?: number } };

describe('fusion math', () => {
  it('min-max normalisation maps the best score to 1 and the worst to 0, and a lone list to 1', () => {
    const n = minMaxNormalize([{ id: 'a', score: 12 }, { id: 'b', score: 7 }, { id: 'c', score: 2 }]);
    expect([n.get('a'), n.get('b'), n.get('c')]).toEqual([1, 0.5, 0]);
    expect(minMaxNormalize([{ id: 'x', score: 0.3 }]).get('x')).toBe(1);
    expect(minMaxNormalize([{ id: 'x', score: 4 }, { id: 'y', score: 4 }]).get('y')).toBe(1);
  });

  it('convex fusion is keyword order at weight 0 and vector order at weight 1', () => {
    const keyword = [{ id: 'k1', score: 9 }, { id: 'k2', score: 5 }, { id: 'both', score: 1 }];
    const vector = [{ id: 'v1', score: 0.8 }, { id: 'both', score: 0.7 }, { id: 'v2', score: 0.2 }];
    expect(convexFusion(vector, keyword, 0).slice(0, 3).map((r) => r.id)).toEqual(['k1', 'k2', 'both']);
    expect(convexFusion(vector, keyword, 1).slice(0, 2).map((r) => r.id)).toEqual(['v1', 'both']);
    expect(() => convexFusion(vector, keyword, 1.5)).toThrow(RangeError);
  });

  it('keeps a clear keyword winner first where equal-weight RRF lets a weak retriever demote it', () => {
    // The keyword top hit scores far above the rest; the vector list barely separates its
    // candidates and does not contain it. RRF sees only ranks and puts "both" first.
    const keyword = [{ id: 'exact', score: 30 }, { id: 'both', score: 4 }, { id: 'k3', score: 3.9 }];
    const vector = [{ id: 'both', score: 0.41 }, { id: 'v2', score: 0.4 }, { id: 'v3', score: 0.39 }];
    expect(reciprocalRankFusion([vector, keyword])[0]!.id).toBe('both');
    expect(convexFusion(vector, keyword, 0.3)[0]!.id).toBe('exact');
  });

  it('adapts the default vector weight to the keyword winner: its floor when that covers the whole query, its cap when it covers nothing', () => {
    for (const family of ['offline', 'model'] as const) {
      const { floor, cap } = ADAPTIVE_VECTOR_WEIGHT[family];
      expect(adaptiveVectorWeight(family, 1)).toBe(floor);
      expect(adaptiveVectorWeight(family, 0)).toBe(cap);
      expect(adaptiveVectorWeight(family, null)).toBe(cap);
      expect(adaptiveVectorWeight(family, 0.5)).toBeCloseTo((floor + cap) / 2, 12);
    }
    // Less keyword coverage never gives vector less say, and the weight stays a convex weight.
    fc.assert(
      fc.property(fc.double({ min: -1, max: 2, noNaN: true }), fc.double({ min: -1, max: 2, noNaN: true }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(adaptiveVectorWeight('offline', lo)).toBeGreaterThanOrEqual(adaptiveVectorWeight('offline', hi));
        for (const w of [adaptiveVectorWeight('offline', a), adaptiveVectorWeight('model', a)]) expect(w >= 0 && w <= 1).toBe(true);
      }),
    );
  });

  it('fused convex scores stay in [0, 1] for any lists and weight', () => {
    const list = fc.array(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), score: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }), { maxLength: 8 });
    fc.assert(
      fc.property(list, list, fc.double({ min: 0, max: 1, noNaN: true }), (vector, keyword, w) => {
        for (const { score } of convexFusion(vector, keyword, w)) expect(score >= 0 && score <= 1 + 1e-12).toBe(true);
      }),
    );
  });
});

describe('reranker scores as relevance', () => {
  it('maps relevantAt to 0.5, keeps 0 and 1, is the identity at 0.5 and never reorders', () => {
    expect(rerankRelevance(0.2, 0.2)).toBe(0.5);
    expect(rerankRelevance(0, 0.2)).toBe(0);
    expect(rerankRelevance(1, 0.2)).toBe(1);
    expect(rerankRelevance(0.37, 0.5)).toBeCloseTo(0.37, 12);
    const unit = fc.double({ min: -1, max: 2, noNaN: true });
    fc.assert(
      fc.property(unit, unit, fc.double({ min: 0.01, max: 0.99, noNaN: true }), (a, b, t) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const [rlo, rhi] = [rerankRelevance(lo, t), rerankRelevance(hi, t)];
        expect(rlo).toBeLessThanOrEqual(rhi + 1e-12);
        expect(rlo >= 0 && rhi <= 1).toBe(true);
      }),
    );
  });
});

describe('relevance evidence', () => {
  it('combines any evidence into [0, 1], and more evidence never lowers it', () => {
    const unit = fc.option(fc.double({ min: -2, max: 3, noNaN: true }), { nil: undefined });
    fc.assert(
      fc.property(unit, unit, fc.double({ min: -1, max: 1, noNaN: true }), (coverage, similarity, cosine) => {
        const r = combineEvidence(coverage ?? null, similarity);
        expect(r >= 0 && r <= 1).toBe(true);
        const s = similarityEvidence(cosine, 'offline');
        expect(s >= 0 && s <= 1).toBe(true);
        expect(combineEvidence(0.4, 0.5)).toBeGreaterThanOrEqual(combineEvidence(0.4, 0.2));
      }),
    );
  });

  /** Term statistics as the bot's index would report them: `df` per term key, `n` chunks. */
  const statsFor = (query: string, n: number, df: Record<string, number> = {}): QueryTermStats => {
    const terms = queryTerms(query);
    return {
      ...terms,
      chunkCount: n,
      wordStats: terms.words.map((w) => ({ df: df[w.join(' ')] ?? 1, n })),
      gramStats: terms.grams.map((g) => ({ df: df[g] ?? 1, n })),
    };
  };

  it('term coverage counts folded words and stems: all of the query in the chunk is 1, none is 0', () => {
    const query = 'Wie lange dauern Lieferungen in die Kaufingerstrasse?';
    const covered = coverageScorer(statsFor(query, 50));
    expect(covered('Eine Lieferung in die Kaufingerstraße: die Fahrten dauern zwei Tage, so lange wie immer.')).toBe(1);
    expect(covered('Das Café öffnet um acht Uhr.')).toBe(0);
    expect(coverageScorer(statsFor('返品の期限', 50))('返品の期限は十四日です')).toBe(1);
  });

  it('weighs query terms by rarity: a word found in every chunk covers almost nothing, a rare word almost everything', () => {
    const query = 'Does Orbitly support fax machines?';
    // "orbitly" is in all 200 chunks; "fax" and "machines" in none; "support" in 40.
    const stats = statsFor(query, 200, { orbitly: 200, support: 40, fax: 0, machines: 0 });
    const score = coverageScorer(stats);
    expect(score('Orbitly keeps every conversation for a year.')!).toBeLessThan(0.01);
    expect(score('Orbitly can send a fax to any machines you register.')!).toBeGreaterThan(0.85);
    // Equal weights would have rated the product-name-only chunk 1/4.
    expect(score('Orbitly support answers within a day.')!).toBeLessThan(DEFAULT_ABSTAIN_RELEVANCE);
  });

  it('rates a query made only of words found nearly everywhere low, whatever it matches', () => {
    expect(coverageScorer(statsFor('Orbitly', 200, { orbitly: 200 }))('Orbitly keeps every conversation.')!).toBeLessThan(0.01);
  });

  it('does not count a function word as the stem of a query word ("with" is not "withdrawal")', () => {
    expect(coverageScorer(statsFor('withdrawal', 10))('Sign in with a password.')).toBe(0);
  });

  it('weighs Japanese by content bigrams, never by pairs that span a particle', () => {
    const { grams } = queryTerms('返品は何日以内ですか？');
    expect(grams).toEqual(['返品', '何日', '日以', '以内']);
    expect(queryTerms('ですか').grams).toEqual(['です', 'すか']);
  });
});

describe('search text folding', () => {
  it('folds accents and ß the same way on both sides, but leaves Japanese voicing marks alone', () => {
    expect(foldForSearch('crème brûlée')).toBe('creme brulee');
    expect(foldForSearch('Straße')).toBe('Strasse');
    expect(foldForSearch('Ærø, Łódź, Œuvre')).toBe('AEro, Lodz, OEuvre');
    expect(foldForSearch('ﬁle Ｆｕｌｌ')).toBe('file Full');
    expect(foldForSearch('がぎぐ パン')).toBe('がぎぐ パン');
    expect(hasSpacelessScript('送料')).toBe(true);
    expect(hasSpacelessScript('Straße')).toBe(false);
    // Korean joins particles to the word, so it takes the n-gram index too; folding keeps its syllables whole.
    expect(hasSpacelessScript('Straße 한국어')).toBe(true);
    expect(foldForSearch('부산까지')).toBe('부산까지');
  });
});

const ENGLISH = `# Orchard handbook

## Pruning
Prune apple trees in late winter, before the buds open. Cut crossing branches first.

## Harvest
Pears are picked while still firm and ripen indoors within a week.`;

const GERMAN_AND_FRENCH = `# Rezepte der Konditorei

## Crème brûlée
Die Crème brûlée wird im Wasserbad bei 150 Grad gestockt und erst kurz vor dem Servieren karamellisiert.

## Lieferung
Wir liefern in die Kaufingerstraße nur zwischen sieben und zehn Uhr morgens.`;

const JAPANESE = `# 返品について

商品到着後十四日以内であれば未使用品の返品を受け付けています。送料は全国一律六百円です。

## 駐車場
本店には駐車場がありません。`;

const CHINESE = `# 会员积分

每消费一元可获得一个积分，积分有效期为两年。会员生日当月享受双倍积分。`;

const THAI = `# การจัดส่งสินค้า

เราจัดส่งสินค้าทั่วประเทศภายในสามวันทำการ ค่าจัดส่งฟรีเมื่อสั่งซื้อครบห้าร้อยบาท`;

const KOREAN = `# 배송 안내

서울에서 부산까지 택배는 보통 이틀이 걸립니다. 제주도는 배송비가 추가됩니다.`;

const SITE = 'https://rerank.acme.test/v1/rerank';

/** A product handbook whose every page names the product, each page on its own topic. */
const QUILLMARK_PAGES = {
  nib: 'Quillmark pens ship with a steel nib. To calibrate the nib, press it gently on the tuning card until the line stops skipping.',
  ink: 'Quillmark cartridges hold two millilitres of ink. Replace a cartridge when the window turns clear.',
  cleaning: 'Rinse the Quillmark feed under lukewarm water once a month and let it dry overnight.',
  warranty: 'Every Quillmark comes with a two year warranty covering cracks in the barrel.',
};

describe('relevance weighs query terms by rarity in the bot (through the Worker)', () => {
  let owner: Account;
  beforeAll(async () => {
    owner = await register('relevance-idf');
    for (const [title, text] of Object.entries(QUILLMARK_PAGES)) await waitForSource(owner.token, (await addText(owner.token, owner.botId, title, text)).id);
  });
  const best = async (query: string, mode: string) => ((await searchBot(owner.token, owner.botId, query, { mode, topK: 5 })) as unknown as Hit[])[0];

  it.each(['keyword', 'vector', 'hybrid'])('a query whose only matching word is in every chunk stays below the abstention threshold (%s)', async (mode) => {
    const top = await best('Quillmark pigeons', mode);
    expect(top?.relevance ?? 0).toBeLessThan(DEFAULT_ABSTAIN_RELEVANCE);
  });

  it.each(['keyword', 'vector', 'hybrid'])('a question in other inflections than the page ("replaced cartridges") is rated above the threshold (%s)', async (mode) => {
    const top = await best('When should cartridges be replaced?', mode);
    expect(top!.text).toContain('Replace a cartridge');
    expect(top!.relevance).toBeGreaterThanOrEqual(DEFAULT_ABSTAIN_RELEVANCE);
  });

  it.each(['keyword', 'vector', 'hybrid'])('a question whose content words the bot never uses stays below the threshold (%s)', async (mode) => {
    const top = await best('Can I order a leather sleeve with engraving?', mode);
    expect(top?.relevance ?? 0).toBeLessThan(DEFAULT_ABSTAIN_RELEVANCE);
  });

  const ids = async (query: string, extra: Record<string, unknown>) => ((await searchBot(owner.token, owner.botId, query, { topK: 4, ...extra })) as unknown as Hit[]).map((h) => h.chunkId);

  it('hybrid keeps the keyword winner first when it contains every word of the query', async () => {
    for (const query of ['calibrate the nib tuning card', 'rinse the feed under lukewarm water', 'warranty covering cracks in the barrel']) {
      const [keywordTop] = await ids(query, { mode: 'keyword' });
      expect((await ids(query, { mode: 'hybrid' }))[0], query).toBe(keywordTop);
    }
  });

  it("uses a bot's explicit hybridWeight as is: weight 1 is the vector order", async () => {
    const query = 'how often should the pen be washed';
    const patched = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { hybridWeight: 1 } } });
    expect(patched.body.retrieval.hybridWeight).toBe(1);
    try {
      expect(await ids(query, { mode: 'hybrid', rerank: false })).toEqual(await ids(query, { mode: 'vector', rerank: false }));
    } finally {
      await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { hybridWeight: null } } });
    }
  });

  it.each(['keyword', 'hybrid'])('a match on the words only one chunk has is rated above the threshold (%s)', async (mode) => {
    const top = await best('How do I calibrate the nib?', mode);
    expect(top!.text).toContain('calibrate the nib');
    expect(top!.relevance).toBeGreaterThanOrEqual(DEFAULT_ABSTAIN_RELEVANCE);
  });
});

describe('search through the Worker', () => {
  let owner: Account;
  const sources: Record<string, string> = {};

  beforeAll(async () => {
    owner = await register('retrieval');
    for (const [name, text] of Object.entries({ english: ENGLISH, german: GERMAN_AND_FRENCH, japanese: JAPANESE, chinese: CHINESE, thai: THAI, korean: KOREAN })) {
      const created = await addText(owner.token, owner.botId, name, text);
      await waitForSource(owner.token, created.id);
      sources[name] = created.id;
    }
  });

  const search = (query: string, extra: Record<string, unknown> = {}) => searchBot(owner.token, owner.botId, query, extra) as unknown as Promise<(Hit & { source: { id: string } })[]>;
  const setReranker = async (reranker: unknown, secrets?: Record<string, string | null>) => {
    const res = await call('PATCH', '/api/v1/settings', { token: owner.token, body: { reranker, ...(secrets ? { secrets } : {}) } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };

  it('gives every hit a relevance in [0, 1] in every mode and fusion', async () => {
    const modes: [string, Record<string, unknown>][] = [
      ['keyword', { mode: 'keyword' }],
      ['vector', { mode: 'vector' }],
      ['hybrid', { mode: 'hybrid' }],
    ];
    for (const [label, extra] of modes) {
      const hits = await search('when should apple trees be pruned', { ...extra, topK: 10 });
      expect(hits.length, label).toBeGreaterThan(0);
      expect(hits[0]!.source.id, label).toBe(sources.english);
      for (const hit of hits) expect(hit.relevance >= 0 && hit.relevance <= 1, `${label} ${hit.relevance}`).toBe(true);
    }
    const patched = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { fusion: 'rrf' } } });
    expect(patched.body.retrieval).toMatchObject({ fusion: 'rrf', hybridWeight: null });
    const rrf = await search('when should apple trees be pruned', { topK: 10 });
    for (const hit of rrf) expect(hit.relevance >= 0 && hit.relevance <= 1).toBe(true);
    await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { fusion: 'convex' } } });
  });

  it('rates a question the knowledge answers above one it does not mention at all', async () => {
    const [answered] = await search('when should apple trees be pruned');
    const unrelated = await search('who won the chess olympiad in 1962');
    expect(answered!.relevance).toBeGreaterThan(unrelated[0]?.relevance ?? 0);
  });

  it('applies minScore to relevance, from the request or the bot', async () => {
    const all = await search('apple trees pruning winter', { topK: 10 });
    const cut = all[0]!.relevance;
    const filtered = await search('apple trees pruning winter', { topK: 10, minScore: cut });
    expect(filtered.length).toBeGreaterThan(0);
    for (const hit of filtered) expect(hit.relevance).toBeGreaterThanOrEqual(cut);
    expect(filtered.length).toBeLessThanOrEqual(all.length);

    await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { minScore: 1 } } });
    const none = await search('who won the chess olympiad in 1962');
    expect(none).toEqual([]);
    await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { minScore: 0 } } });
  });

  it('finds "Straße" by "Strasse" and "crème brûlée" by "creme brulee" in keyword search', async () => {
    const street = await search('Kaufingerstrasse', { mode: 'keyword' });
    expect(street[0]?.source.id).toBe(sources.german);
    expect(street[0]!.text).toContain('Kaufingerstraße');
    const dessert = await search('creme brulee', { mode: 'keyword' });
    expect(dessert[0]?.source.id).toBe(sources.german);
    const reverse = await search('Crème Brûlée', { mode: 'keyword' });
    expect(reverse[0]?.chunkId).toBe(dessert[0]!.chunkId);
  });

  it('finds Japanese text by keyword: long queries through trigrams, two-character words by substring', async () => {
    const long = await search('返品の受け付け期間', { mode: 'keyword' });
    expect(long[0]?.source.id).toBe(sources.japanese);
    const short = await search('送料', { mode: 'keyword' });
    expect(short[0]?.source.id).toBe(sources.japanese);
    expect(short[0]!.relevance).toBeGreaterThan(0);
    const absent = await search('自転', { mode: 'keyword' });
    expect(absent).toEqual([]);
  });

  it.each([
    ['Chinese', 'chinese', '积分有效期是多久', '生日'],
    ['Thai', 'thai', 'ค่าจัดส่งฟรี', 'ส่ง'],
    // Korean has spaces, but particles and endings join the word: "부산" is inside "부산까지".
    ['Korean', 'korean', '부산까지 택배', '부산'],
  ])('finds %s text by keyword, where words are not set apart by spaces: a phrase from inside a sentence and a short word', async (_language, source, phrase, short) => {
    for (const query of [phrase, short]) {
      const hits = await search(query, { mode: 'keyword' });
      expect(hits[0]?.source.id, query).toBe(sources[source]);
      // Hybrid finds it too, and rates it relevant enough to answer from.
      const [top] = await search(query, { mode: 'hybrid' });
      expect(top?.source.id, query).toBe(sources[source]);
      expect(top!.relevance, query).toBeGreaterThanOrEqual(DEFAULT_ABSTAIN_RELEVANCE);
    }
  });

  it('another org’s bot answers 404 on search, and the request is validated', async () => {
    const stranger = await register('retrieval-stranger');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: stranger.token, body: { query: 'apple' } });
    expectProblem(res, 404, 'bot_not_found');
    const other = await call('POST', `/api/v1/bots/${stranger.botId}/search`, { token: owner.token, body: { query: 'apple' } });
    expectProblem(other, 404, 'bot_not_found');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: 'apple', minScore: 2 } }), 400);
    expectProblem(await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { hybridWeight: 1.5 } } }), 400);
    expectProblem(await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { retrieval: { fusion: 'max' } } }), 400);
  });

  describe('reranker', () => {
    it('rejects bad reranker settings and stores nothing', async () => {
      for (const reranker of [
        { url: 'ftp://x.test/rerank', model: 'm' },
        { url: SITE, model: '' },
        { url: SITE, model: 'm', topN: 0 },
        { url: SITE, model: 'm', topN: 51 },
        { url: SITE },
        { url: SITE, model: 'm', relevantAt: 0 },
        { url: SITE, model: 'm', relevantAt: 1 },
        { url: SITE, model: 'm', relevantAt: '0.3' },
      ]) {
        expectProblem(await call('PATCH', '/api/v1/settings', { token: owner.token, body: { reranker } }), 400);
      }
      const settings = await call('GET', '/api/v1/settings', { token: owner.token });
      expect(settings.body.reranker).toBeNull();
    });

    it('reorders the fused head by the reranker, whose score becomes the relevance; the key is sent and stored masked', async () => {
      const settings = await setReranker({ url: SITE, model: 'lexical-v1', topN: 10 }, { rerank_api_key: 'rr-secret-key-123456' });
      expect(settings.reranker).toEqual({ url: SITE, model: 'lexical-v1', topN: 10, relevantAt: 0.5 });
      expect(settings.secrets.rerank_api_key.value).not.toContain('secret');

      const hits = await search('pears ripen indoors', { topK: 5 });
      expect(hits.length).toBeGreaterThan(0);
      expect(hits[0]!.text).toContain('Pears');
      hits.forEach((hit, i) => {
        expect(hit.ranks.rerank).toBe(i + 1);
        expect(hit.relevance).toBe(hit.score);
      });
      const seen = await (await env.WEB_FETCHER!.fetch('https://rerank.acme.test/__rerank-last')).json<{ authorization: string; body: { model: string; query: string; documents: string[]; top_n: number } }>();
      expect(seen.authorization).toBe('Bearer rr-secret-key-123456');
      expect(seen.body).toMatchObject({ model: 'lexical-v1', query: 'pears ripen indoors' });
      expect(seen.body.documents.length).toBe(seen.body.top_n);

      const skipped = await search('pears ripen indoors', { topK: 5, rerank: false });
      for (const hit of skipped) expect(hit.ranks.rerank).toBeUndefined();
    });

    it("maps the reranker's score to relevance through the org's relevantAt: that score becomes 0.5, the order is kept", async () => {
      await setReranker({ url: SITE, model: 'lexical-v1', topN: 10, relevantAt: 0.2 });
      try {
        // One word no chunk has, so the fake (IDF-weighted share of the query's words) scores the pear chunk strictly between 0 and 1.
        const hits = await search('pears ripen indoors slowly', { topK: 5 });
        expect(hits.length).toBeGreaterThan(1);
        for (const hit of hits) {
          const expected = hit.score < 0.2 ? (0.5 * hit.score) / 0.2 : 0.5 + (0.5 * (hit.score - 0.2)) / 0.8;
          expect(hit.relevance).toBeCloseTo(expected, 12);
        }
        // Reranked hits are ordered by score, so their relevance is ordered too.
        for (let i = 1; i < hits.length; i++) expect(hits[i]!.relevance).toBeLessThanOrEqual(hits[i - 1]!.relevance);
        expect(hits[0]!.score).toBeGreaterThan(0.2);
        expect(hits[0]!.score).toBeLessThan(1);
        expect(hits[0]!.relevance).toBeGreaterThan(hits[0]!.score);
      } finally {
        await setReranker({ url: SITE, model: 'lexical-v1', topN: 10 });
      }
    });

    it.each([
      ['an HTTP 500', 'fail-500'],
      ['a body that is not JSON', 'garbage'],
      ['an index out of range', 'out-of-range'],
    ])('degrades to the fused order on %s, never failing the search', async (_label, model) => {
      const fused = await search('pears ripen indoors', { topK: 5, rerank: false });
      await setReranker({ url: SITE, model, topN: 10 });
      const hits = await search('pears ripen indoors', { topK: 5 });
      expect(hits.map((h) => h.chunkId)).toEqual(fused.map((h) => h.chunkId));
      expect(hits.map((h) => h.relevance)).toEqual(fused.map((h) => h.relevance));
      for (const hit of hits) expect(hit.ranks.rerank).toBeUndefined();
    });

    it('degrades to the fused order when the reranker is slower than its timeout', async () => {
      await setReranker({ url: SITE, model: 'slow', topN: 10 });
      const hits = await search('pears ripen indoors', { topK: 5 });
      expect(hits.length).toBeGreaterThan(0);
      for (const hit of hits) expect(hit.ranks.rerank).toBeUndefined();
    });

    it('refuses to save a reranker URL the egress policy refuses (422 egress_refused) and keeps the stored one', async () => {
      await setReranker({ url: SITE, model: 'lexical-v1', topN: 10 });
      for (const url of ['http://127.0.0.1:8080/rerank', 'http://[::1]/rerank', 'http://169.254.169.254/rerank', 'http://2130706433/rerank']) {
        const res = await call('PATCH', '/api/v1/settings', { token: owner.token, body: { reranker: { url, model: 'lexical-v1', topN: 10 } } });
        expectProblem(res, 422, 'egress_refused');
        expect(res.body.errors[0].path).toBe('reranker.url');
      }
      expect((await call('GET', '/api/v1/settings', { token: owner.token })).body.reranker).toEqual({ url: SITE, model: 'lexical-v1', topN: 10, relevantAt: 0.5 });
    });

    it('degrades to the fused order when the reranker redirects to a private address (the egress guard re-checks every hop)', async () => {
      const fused = await search('pears ripen indoors', { topK: 5, rerank: false });
      await env.WEB_FETCHER!.fetch('https://rerank.acme.test/__control', {
        method: 'POST',
        body: JSON.stringify({ redirects: { '/moved': 'http://127.0.0.1:8080/rerank' } }),
      });
      await setReranker({ url: 'https://rerank.acme.test/moved', model: 'lexical-v1', topN: 10 });
      const hits = await search('pears ripen indoors', { topK: 5 });
      expect(hits.map((h) => h.chunkId)).toEqual(fused.map((h) => h.chunkId));
      for (const hit of hits) expect(hit.ranks.rerank).toBeUndefined();
      const hops = await (await env.WEB_FETCHER!.fetch('https://rerank.acme.test/__hits')).json<Record<string, number>>();
      expect(hops['/moved']).toBeGreaterThan(0);
      await setReranker(null, { rerank_api_key: null });
      expect((await call('GET', '/api/v1/settings', { token: owner.token })).body.reranker).toBeNull();
    });
  });
});
