import { z } from '@hono/zod-openapi';
import { FEEDBACK_AUTHOR_KINDS, FEEDBACK_RATINGS } from '../../db/schema';
import { FEEDBACK } from '../../limits';

/** Also the body of the widget's visitor route: both go through recordFeedback. */
export const FeedbackBody = z
  .object({
    rating: z.enum(FEEDBACK_RATINGS),
    comment: z
      .string()
      .max(FEEDBACK.maxCommentChars)
      .nullable()
      .optional()
      .openapi({ description: `Why, in a sentence or two (at most ${FEEDBACK.maxCommentChars} characters); replaced (or cleared) by the next rating` }),
  })
  .strict()
  .openapi('FeedbackInput');

export const FeedbackSchema = z
  .object({
    id: z.string().openapi({ example: 'fbk_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    conversationId: z.string(),
    messageId: z.string(),
    botId: z.string(),
    rating: z.enum(FEEDBACK_RATINGS),
    comment: z.string().nullable(),
    author: z.object({
      kind: z.enum(FEEDBACK_AUTHOR_KINDS),
      id: z.string().openapi({ description: 'A user id or API key id (member), or the visitor id or verified user id (visitor)' }),
    }),
    mine: z.boolean().openapi({ description: 'True for the caller\'s own rating' }),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Feedback');
