/** The one place the live room gets its turn pipeline from (a seam for the room, not a second pipeline). */
export { startTurn as runTurn } from '../pipeline';
