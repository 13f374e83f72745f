/**
 * The event catalog: one zod schema per outbox event type (the `data` of a webhook body).
 * Entries below come from the analytics slice (issue #10); the webhooks slice owns this file.
 */
import { z } from 'zod';

export const EVENT_CATALOG = {
  /** An answer was corrected: a Q&A source now holds the question and the corrected answer. */
  'answer.improved': z.object({
    correctionId: z.string(),
    messageId: z.string(),
    feedbackId: z.string().nullable(),
    sourceId: z.string(),
    question: z.string(),
  }),
} as const;
