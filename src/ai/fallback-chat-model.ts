/**
 * An ordered list of chat models tried one after another. A model that fails before its first
 * delta (ChatModelError: rate limited past our retries, down, timed out, refused by egress…)
 * hands over to the next; once a model has started answering, its failure is the turn's failure
 * (switching would splice two different answers together).
 *
 * Which model answered: `id` (and `lastModelId`) name it once the answer has started, so the
 * stored message records the model that actually spoke. One instance serves one turn at a time.
 */
import { ChatModelError, type ChatChunk, type ChatModel, type ChatRequest } from './chat-model';

export interface FallbackAttempt {
  modelId: string;
  error: ChatModelError;
}

export interface FallbackChatModelOptions {
  /** Told about each model that failed before answering (reason only, never the prompt). */
  onFallback?: (attempt: FallbackAttempt, next: string) => void;
}

export class FallbackChatModel implements ChatModel {
  /** The model that produced the last answer, or null before any answered. */
  lastModelId: string | null = null;
  /** Models that failed before the last answer started, in order. */
  failures: FallbackAttempt[] = [];

  constructor(
    readonly models: readonly ChatModel[],
    private readonly options: FallbackChatModelOptions = {},
  ) {
    if (models.length === 0) throw new RangeError('a fallback list needs at least one model');
  }

  /** Tools are offered when any model in the list takes them; the others answer without. */
  get supportsTools(): boolean {
    return this.models.some((m) => m.supportsTools === true);
  }

  /** The model that answered; the first in the list until one has. */
  get id(): string {
    return this.lastModelId ?? this.models[0]!.id;
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    this.lastModelId = null;
    this.failures = [];
    for (const [index, model] of this.models.entries()) {
      let started = false;
      try {
        // A model without tools (the offline answerer as a last resort) gets the request without them.
        const asked = model.supportsTools || !request.tools ? request : { ...request, tools: undefined };
        for await (const chunk of model.stream(asked)) {
          if (!started) {
            started = true;
            this.lastModelId = model.id;
          }
          yield chunk;
        }
        this.lastModelId = model.id;
        return;
      } catch (error) {
        const switchable = !started && error instanceof ChatModelError && error.reason !== 'aborted' && !request.signal?.aborted;
        if (!switchable) throw error;
        this.failures.push({ modelId: model.id, error });
        const next = this.models[index + 1];
        if (!next) {
          const tried = this.failures.map((f) => `${f.modelId}: ${f.error.reason}`).join('; ');
          throw new ChatModelError(error.reason, `every model failed (${tried}); last: ${error.message}`, { ...error.details, model: model.id });
        }
        this.options.onFallback?.({ modelId: model.id, error }, next.id);
      }
    }
  }
}
