/**
 * The one place the live room gets its turn pipeline from. The pipeline slice's
 * `startTurn` (src/features/chat/pipeline.ts) replaces the stand-in here when it merges:
 *
 *   export { startTurn as runTurn } from '../pipeline';
 */
export { interimStartTurn as runTurn } from './interim-turn';
