/** Types of scripts/answer-metrics.mjs, for the tests that pin its rules down (the script itself runs in Node). */
export interface AnswerSummary {
  answerable: number;
  unanswerable: number;
  goldContained: number;
  goldContainedAnswered: number;
  citationAccuracy: number;
  abstain: number;
  falseAbstain: number;
  medianChars: number;
}
export interface CoveredTurn {
  id: string;
  gold: string;
  goldFiles: string[];
  answer: string;
  unanswered: boolean;
  firstCitedFile: string | null;
}
export interface AnswerTargets {
  goldContained: number;
  medianChars: number;
  abstainUncovered: number;
  falseAbstainCovered: number;
}
export const ANSWER_TARGETS: AnswerTargets;
export function fold(text: string): string;
export function words(text: string): string[];
export function contentWords(text: string): string[];
export function characterBigrams(text: string): Set<string>;
export function missingFromAnswer(answer: string, gold: string): string[];
export function containsGold(answer: string, gold: string): boolean;
export function charLength(text: string): number;
export function median(values: number[]): number;
export function summarizeAnswers(turns: { covered: CoveredTurn[]; uncovered: { id: string; unanswered: boolean }[] }): AnswerSummary;
export function missedTargets(name: string, summary: AnswerSummary, targets?: AnswerTargets): string[];
