/**
 * The ChatModel port: a prompt in, a stream of text deltas out. Two kinds of adapter:
 * any OpenAI-compatible chat completions endpoint through the `openai` SDK, and the offline
 * extractive answerer (no key, no network), which composes its answer from the numbered
 * sources it is given rather than from the prompt text.
 */
import type { TokenUsage } from '../db/schema';
import type { ProviderFailureReason } from './provider-errors';

export interface PromptMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** On an assistant message: the tool calls it made (the OpenAI `tool_calls`), in order. */
  toolCalls?: ToolCall[];
  /** On a tool message: the call it answers. */
  toolCallId?: string;
}

/**
 * A tool the model may call (OpenAI's `{type: 'function', function: {name, description,
 * parameters}}`). Only adapters with `supportsTools` receive them; the offline answerer has none.
 */
export interface ToolDefinition {
  name: string;
  description: string;
  /** A JSON Schema object for the arguments. */
  parameters: Record<string, unknown>;
}

/** One call the model asked for: `arguments` is the model's raw JSON text, not yet trusted. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
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
  /** Tools the model may call; ignored by a model without `supportsTools`. */
  tools?: ToolDefinition[];
}

export type ChatChunk =
  | { type: 'text'; text: string }
  | { type: 'usage'; usage: TokenUsage }
  /** The model ended its turn asking for these calls (finish_reason `tool_calls`); comes before usage. */
  | { type: 'tool_calls'; calls: ToolCall[] };

export interface ChatModel {
  /** `provider:model`, stored on each assistant message. */
  readonly id: string;
  /** True when the model can be offered tools (OpenAI-compatible endpoints); the offline answerer cannot. */
  readonly supportsTools?: boolean;
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
