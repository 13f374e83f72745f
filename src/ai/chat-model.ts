/**
 * The ChatModel port: a prompt in, a stream of text deltas out. Two kinds of adapter:
 * any OpenAI-compatible chat completions endpoint through the `openai` SDK, and the offline
 * extractive answerer (no key, no network), which composes its answer from the numbered
 * sources it is given rather than from the prompt text.
 */
import type { TokenUsage } from '../db/schema';
import type { ProviderFailureReason } from './provider-errors';

export interface PromptMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One retrieved passage as the model sees it: `n` is the number its `[n]` marker cites. */
export interface PromptSource {
  n: number;
  title: string;
  text: string;
  /** The headings the text sits under in its document, outermost first (a chunk cut from inside a section). */
  headings?: string[];
}

export interface ChatRequest {
  /** The full prompt: instructions, fenced sources, summary, history, the question last. */
  messages: PromptMessage[];
  /** The question on its own, and the numbered sources the prompt carries (extractive models use these). */
  question: string;
  sources: PromptSource[];
  temperature: number;
  maxTokens: number;
  signal?: AbortSignal;
}

export type ChatChunk = { type: 'text'; text: string } | { type: 'usage'; usage: TokenUsage };

export interface ChatModel {
  /** `provider:model`, stored on each assistant message. */
  readonly id: string;
  /** Deltas of the answer, then (when the provider reports it) one usage chunk. Throws ChatModelError. */
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
}

/** A chat model fails for exactly the reasons any OpenAI-compatible provider call can. */
export type ChatFailureReason = ProviderFailureReason;

/** A model call that failed. `message` is for logs; what reaches the wire is chosen from `reason`. */
export class ChatModelError extends Error {
  constructor(
    readonly reason: ChatFailureReason,
    message: string,
    readonly details: { status?: number; attempts?: number; retryAfterMs?: number; model?: string } = {},
  ) {
    super(message);
    this.name = 'ChatModelError';
  }
}
