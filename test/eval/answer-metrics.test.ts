/// <reference types="vite/client" />
/**
 * The rules `npm run eval` scores answers by (scripts/answer-metrics.mjs), and the gold answer
 * files it scores against (test/fixtures/corpus/**\/answers.json).
 */
import { describe, expect, it } from 'vitest';
import {
  containsGold,
  contentWords,
  median,
  missedTargets,
  missingFromAnswer,
  summarizeAnswers,
  type CoveredTurn,
} from '../../scripts/answer-metrics.mjs';

const answerFiles = import.meta.glob<{ answers: Record<string, string> }>('../fixtures/corpus/**/answers.json', { eager: true, import: 'default' });
const questionFiles = import.meta.glob<{ questions: { id: string; gold: string[] }[]; uncovered?: { id: string }[] }>(
  '../fixtures/corpus/**/questions.json',
  { eager: true, import: 'default' },
);
const documents = import.meta.glob<string>('../fixtures/corpus/**/*.md', { eager: true, query: '?raw', import: 'default' });

describe('gold contained', () => {
  it('ignores case, diacritics, ß spelled ss, punctuation and word order', () => {
    expect(containsGold('Die TERRASSE hat Platz; Grosse Sitzplatze: 40', '40 Sitzplätze')).toBe(true);
    expect(containsGold('Send it back after RETRY-after in the header.', 'Retry-After header')).toBe(true);
    expect(containsGold('los envios a Baleares tardan cinco dias', 'cinco días')).toBe(true);
  });

  it('needs every content word of the gold answer, not just most of them', () => {
    expect(missingFromAnswer('The window is one minute long.', 'rolling one-minute window')).toEqual(['rolling']);
    expect(containsGold('Wait, then retry.', 'Retry-After header')).toBe(false);
  });

  it('skips function words but keeps negations, which change the fact', () => {
    expect(contentWords('kept for 30 days')).toEqual(['kept', '30', 'days']);
    expect(contentWords('nicht zertifiziert')).toEqual(['nicht', 'zertifiziert']);
    expect(containsGold('Das Brot ist zertifiziert.', 'nicht zertifiziert')).toBe(false);
  });

  it('matches whole words only, with a plural s folded', () => {
    expect(containsGold('Viewers do not use a seat.', 'Viewer')).toBe(true);
    expect(containsGold('It costs $490.', '$49 per seat')).toBe(false);
  });

  it('checks Japanese by character bigrams, since it has no spaces between words', () => {
    expect(containsGold('商品到着後十四日以内であれば返品できます。', '十四日以内')).toBe(true);
    expect(missingFromAnswer('十日以内に返品できます', '十四日以内')).toEqual(['十四', '四日']);
    // Full-width and half-width forms fold alike.
    expect(containsGold('料金はＡＰＩ５００円です', 'API500円')).toBe(true);
  });
});

describe('corpus summary', () => {
  const turn = (over: Partial<CoveredTurn>): CoveredTurn => ({
    id: 'q',
    gold: '24 hours',
    goldFiles: ['a.md'],
    answer: 'The link is valid for 24 hours [1].',
    unanswered: false,
    firstCitedFile: 'a.md',
    ...over,
  });

  it('scores citation accuracy and length over answered questions, abstention over each kind', () => {
    const summary = summarizeAnswers({
      covered: [
        turn({}),
        turn({ firstCitedFile: 'b.md', answer: 'It lasts a day.' }),
        turn({ unanswered: true, answer: 'Sorry, I do not know.', firstCitedFile: null }),
        turn({ firstCitedFile: null }),
      ],
      uncovered: [{ id: 'u1', unanswered: true }, { id: 'u2', unanswered: false }],
    });
    expect(summary).toEqual({
      answerable: 4,
      unanswerable: 2,
      goldContained: 2 / 4,
      goldContainedAnswered: 2 / 3,
      citationAccuracy: 1 / 3,
      abstain: 1 / 2,
      falseAbstain: 1 / 4,
      medianChars: 35,
    });
  });

  it('names every missed target, and none when all are met', () => {
    const met = { answerable: 10, unanswerable: 4, goldContained: 0.9, goldContainedAnswered: 0.9, citationAccuracy: 0.5, abstain: 1, falseAbstain: 0, medianChars: 120 };
    expect(missedTargets('en', met)).toEqual([]);
    const missed = missedTargets('en', { ...met, goldContained: 0.8, medianChars: 400, abstain: 0.75, falseAbstain: 0.1 });
    expect(missed).toHaveLength(4);
    expect(missed.join('\n')).toMatch(/gold contained 0\.800.*\n.*median answer 400.*\n.*abstains on 0\.750.*\n.*falsely abstains on 0\.100/);
  });

  it('takes the mean of the two middle values for an even count', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 10])).toBe(3.5);
    expect(median([])).toBeNaN();
  });
});

describe('gold answer files', () => {
  const folders = Object.keys(questionFiles).map((file) => file.replace(/questions\.json$/, ''));

  it('exist for every corpus', () => {
    expect(folders.length).toBeGreaterThanOrEqual(4);
    for (const folder of folders) expect(answerFiles[`${folder}answers.json`], folder).toBeDefined();
  });

  it('answer exactly the answerable questions, in words found in a gold document', () => {
    for (const folder of folders) {
      const { questions, uncovered = [] } = questionFiles[`${folder}questions.json`]!;
      const { answers } = answerFiles[`${folder}answers.json`]!;
      expect(Object.keys(answers).sort(), folder).toEqual(questions.map((q) => q.id).sort());
      for (const u of uncovered) expect(answers[u.id], u.id).toBeUndefined();
      for (const q of questions) {
        const gold = answers[q.id]!;
        const goldText = q.gold.map((file) => documents[`${folder}${file}`] ?? '').join('\n');
        expect(containsGold(goldText, gold), `${folder}${q.id}: "${gold}" missing ${missingFromAnswer(goldText, gold).join(', ')}`).toBe(true);
      }
    }
  });
});
