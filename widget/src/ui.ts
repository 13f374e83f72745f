/**
 * The widget's UI inside an open Shadow DOM on `<div id="kyrochat-widget">`: launcher, panel,
 * messages (answers streamed, rendered from the safe markdown tree), citations, feedback, copy,
 * suggestions, lead form, errors, branding. The DOM contract the browser tests rely on is in
 * widget/README.md; keep the two in step.
 */
import { WidgetApi, WidgetError, type ChatHandlers, type Citation, type Identity, type Message, type WidgetConfig } from './api';
import { refusalOf, summarizeArguments, type Confirmation } from './confirm';
import { LiveSocket } from './live';
import { LEADS, WIDGET_CLIENT } from '../../src/limits';
import { el, link, renderBlocks } from './dom';
import { parseMarkdown, safeHref } from './markdown';
import type { Strings } from './i18n';
import type { VisitorStore } from './storage';
import { leadFieldProblem } from './lead';
import { CSS } from './styles';
import { brandOrDefault, textOn } from './theme';

export type WidgetEvent = 'ready' | 'open' | 'close' | 'message' | 'error';
type Listener = (detail?: unknown) => void;

const PANEL_ID = 'kc-panel';
const CHAT_ICON = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z';
// Line icons (stroked), drawn for this widget: SVG instead of emoji, which not every system can show.
const THUMB_ICON = 'M7 11v9H4v-9zm0 0 4-7a2 2 0 0 1 3 2l-1 4h6a2 2 0 0 1 2 2.3l-1.3 6a2 2 0 0 1-2 1.7H7';
const COPY_ICON = 'M9 9h11v11H9zM5 15H4V4h11v1';

function svg(d: string, stroked: boolean, flip = false): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const icon = document.createElementNS(ns, 'svg');
  icon.setAttribute('viewBox', '0 0 24 24');
  icon.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d);
  if (stroked) {
    icon.setAttribute('class', 'kc-icon');
    if (flip) path.setAttribute('transform', 'rotate(180 12 12)');
  }
  icon.append(path);
  return icon;
}

/** An assistant bubble: its raw text while streaming, rendered at most once per frame. */
interface Answer {
  node: HTMLElement;
  body: HTMLElement;
  text: string;
  citations: Citation[];
  frame: number | null;
}

export class WidgetUi {
  private readonly listeners = new Map<WidgetEvent, Set<Listener>>();
  private readonly root: HTMLElement;
  private readonly launcher: HTMLButtonElement;
  private readonly panel: HTMLElement;
  private readonly log: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly errorBox: HTMLElement;
  private readonly suggestions: HTMLElement;
  private busy = false;
  private historyLoaded = false;
  private leadShown = false;
  private disabled = false;
  private prefill: { name?: string; email?: string } = {};
  // The live side (live.ts): what is shown (by message id, so HTTP and socket never show one twice),
  // socket messages held while an HTTP turn streams, the conversation's status, the team's typing.
  private readonly live: LiveSocket;
  private readonly shown = new Set<string>();
  private held: Message[] = [];
  private status: string | null = null;
  private readonly handoffButton: HTMLButtonElement;
  private agentTyping: HTMLElement | null = null;
  private agentTypingTimer: ReturnType<typeof setTimeout> | undefined;
  /** Confirmation cards shown, by confirmation id: the SSE event, the socket's frame and its catch-ups show one card. */
  private readonly confirmations = new Map<string, HTMLElement>();

  constructor(
    private readonly api: WidgetApi,
    private readonly store: VisitorStore,
    private readonly config: WidgetConfig,
    private readonly t: Strings,
  ) {
    const host = el('div');
    host.id = 'kyrochat-widget';
    // Inline and !important: host-page rules cannot hide the host or leak inherited styles in.
    host.style.setProperty('all', 'initial', 'important');
    const shadow = host.attachShadow({ mode: 'open' });
    if ('adoptedStyleSheets' in shadow && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
      // A constructed sheet needs no inline <style>, so pages with a strict style-src CSP work too.
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } else {
      shadow.append(el('style', undefined, CSS));
    }
    const { appearance } = config;
    const brand = brandOrDefault(appearance.brandColor);
    this.root = el('div', `kc-root kc-${appearance.theme === 'dark' ? 'dark' : appearance.theme === 'light' ? 'light' : 'auto'} kc-${appearance.position === 'left' ? 'left' : 'right'}`);
    this.root.style.setProperty('--kc-brand', brand);
    this.root.style.setProperty('--kc-on-brand', textOn(brand));

    this.launcher = el('button', 'kc-launcher');
    this.launcher.type = 'button';
    this.launcher.setAttribute('aria-label', t.open);
    this.launcher.setAttribute('aria-expanded', 'false');
    this.launcher.setAttribute('aria-controls', PANEL_ID);
    this.launcher.append(svg(CHAT_ICON, false));
    this.launcher.addEventListener('click', () => (this.isOpen() ? this.close() : this.open()));

    this.panel = el('div', 'kc-panel');
    this.panel.id = PANEL_ID;
    this.panel.hidden = true;
    this.panel.setAttribute('role', 'dialog');
    this.panel.setAttribute('aria-modal', 'false');
    this.panel.setAttribute('aria-label', appearance.title || config.name);
    // On the whole root, so Escape also closes with focus on the launcher.
    this.root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        this.close();
      }
    });

    const header = el('div', 'kc-header');
    if (appearance.avatarUrl) {
      const avatar = el('img', 'kc-avatar');
      avatar.alt = '';
      avatar.referrerPolicy = 'no-referrer';
      avatar.src = appearance.avatarUrl;
      header.append(avatar);
    }
    header.append(el('h2', 'kc-title', appearance.title || config.name));
    const closeButton = el('button', 'kc-close', '×');
    closeButton.type = 'button';
    closeButton.setAttribute('aria-label', t.close);
    closeButton.addEventListener('click', () => this.close());
    header.append(closeButton);

    this.log = el('div', 'kc-messages');
    this.log.setAttribute('role', 'log');
    this.log.setAttribute('aria-live', 'polite');
    for (const text of config.messages.initial) this.log.append(this.bubble('assistant', text));

    this.suggestions = el('div', 'kc-suggestions');
    for (const question of config.messages.suggestedQuestions) {
      const chip = el('button', undefined, question);
      chip.type = 'button';
      chip.addEventListener('click', () => void this.send(question));
      this.suggestions.append(chip);
    }

    this.errorBox = el('div', 'kc-error');
    this.errorBox.setAttribute('role', 'alert');
    this.errorBox.hidden = true;

    const composer = el('form', 'kc-composer');
    this.input = el('textarea', 'kc-input');
    this.input.rows = 1;
    this.input.setAttribute('aria-label', t.message);
    this.input.placeholder = config.messages.placeholder;
    this.input.addEventListener('input', () => {
      this.goLive();
      this.live.typing();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.send(this.input.value);
      }
    });
    this.sendButton = el('button', 'kc-send', t.send);
    this.sendButton.type = 'submit';
    this.sendButton.setAttribute('aria-label', t.send);
    composer.append(this.input, this.sendButton);
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send(this.input.value);
    });

    this.handoffButton = el('button', 'kc-handoff', t.handoff);
    this.handoffButton.type = 'button';
    this.handoffButton.hidden = true;
    this.handoffButton.addEventListener('click', () => void this.requestHandoff());
    this.live = new LiveSocket(
      () => {
        const { conversationId } = this.store.get();
        return conversationId ? this.api.socket(conversationId) : Promise.reject(new Error('no conversation'));
      },
      {
        message: (message) => {
          if (message.conversationId !== this.store.get().conversationId) return;
          if (this.busy) this.held.push(message);
          else this.liveMessage(message);
        },
        status: (status) => this.setStatus(status),
        typing: () => this.showAgentTyping(),
        confirmation: (confirmation) => this.showConfirmation(confirmation),
      },
    );

    this.panel.append(header, this.log, this.suggestions, this.handoffButton, this.errorBox, composer);
    if (config.branding.poweredBy) this.panel.append(el('div', 'kc-powered', t.powered));
    this.root.append(this.launcher, this.panel);
    shadow.append(this.root);
    document.body.append(host);

    if (config.leadForm.enabled && config.leadForm.when === 'before_chat' && !store.get().leadDone) this.showLeadForm();
  }

  // --- events -----------------------------------------------------------------------------
  on(event: WidgetEvent, fn: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  emit(event: WidgetEvent, detail?: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(detail);
      } catch (err) {
        // A host's listener must not break the widget.
        console.error('[KyroChat] listener failed', err);
      }
    }
  }

  // --- open / close -------------------------------------------------------------------------
  isOpen(): boolean {
    return !this.panel.hidden;
  }

  open(): void {
    if (this.isOpen()) return;
    this.panel.hidden = false;
    this.launcher.setAttribute('aria-expanded', 'true');
    const lead = this.panel.querySelector<HTMLInputElement>('form.kc-lead input');
    (this.input.disabled && lead ? lead : this.input).focus();
    this.emit('open');
    if (!this.historyLoaded && !this.disabled) {
      this.historyLoaded = true;
      void this.loadHistory().then(() => this.goLive());
    } else {
      this.goLive();
    }
  }

  close(): void {
    if (!this.isOpen()) return;
    this.panel.hidden = true;
    this.launcher.setAttribute('aria-expanded', 'false');
    this.launcher.focus();
    this.live.stop();
    this.emit('close');
  }

  /** The page could not load the bot (origin, unknown bot): a readable message and no input. */
  disable(error: WidgetError): void {
    this.disabled = true;
    this.input.disabled = true;
    this.sendButton.disabled = true;
    this.suggestions.hidden = true;
    this.fail(error);
  }

  async identify(identity: Identity, profile: { name?: string; email?: string }): Promise<void> {
    this.prefill = profile;
    try {
      await this.api.openSession(identity);
    } catch (err) {
      this.fail(err);
      return;
    }
    // A verified user's conversations follow them: pick up where they left off, on any device.
    if (this.historyLoaded) {
      this.live.stop();
      await this.loadHistory(true);
      this.goLive();
    }
  }

  // --- messages -----------------------------------------------------------------------------
  private bubble(role: 'user' | 'assistant' | 'agent', text: string, id?: string): HTMLElement {
    const node = el('div', `kc-msg kc-msg--${role}`);
    if (role === 'agent') node.append(el('div', 'kc-msg-label', this.t.agent));
    const body = el('div', 'kc-msg-body');
    if (role === 'user') body.textContent = text;
    else body.append(renderBlocks(parseMarkdown(text), (n) => el('sup', 'kc-cite', `[${n}]`)));
    node.append(body);
    if (id) node.dataset.messageId = id;
    return node;
  }

  private scrollToEnd(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  private async loadHistory(replace = false): Promise<void> {
    if (!this.config.features.history) return;
    try {
      let { conversationId } = this.store.get();
      conversationId ??= (await this.api.latestConversation()) ?? undefined;
      if (!conversationId) return;
      let messages: Message[];
      try {
        messages = await this.api.history(conversationId);
      } catch (err) {
        // Gone, or not this visitor's any more: start afresh rather than show an error.
        if (err instanceof WidgetError && err.status === 404) {
          this.store.update({ conversationId: undefined });
          return;
        }
        throw err;
      }
      this.store.update({ conversationId });
      if (replace) {
        for (const node of Array.from(this.log.querySelectorAll('[data-message-id], .kc-msg--user, .kc-confirm'))) node.remove();
        this.shown.clear();
        this.confirmations.clear();
        this.live.lastMessageId = null;
        this.status = null;
      }
      for (const message of messages) this.show(message);
      this.updateHandoff();
      if (messages.length > 0) this.suggestions.hidden = true;
      this.scrollToEnd();
    } catch (err) {
      this.fail(err);
    }
  }

  private newAnswer(): Answer {
    const node = el('div', 'kc-msg kc-msg--assistant');
    node.setAttribute('aria-busy', 'true');
    const body = el('div', 'kc-msg-body');
    const typing = el('span', 'kc-typing');
    typing.setAttribute('role', 'status');
    typing.setAttribute('aria-label', this.t.typing);
    typing.append(el('i'), el('i'), el('i'));
    body.append(typing);
    node.append(body);
    return { node, body, text: '', citations: [], frame: null };
  }

  private renderAnswer(answer: Answer): void {
    const byNumber = new Map(answer.citations.map((c) => [c.n, c]));
    answer.body.replaceChildren(renderBlocks(parseMarkdown(answer.text), (n) => this.citeMarker(n, byNumber.get(n))));
  }

  private citeMarker(n: number, citation: Citation | undefined): Node {
    const sup = el('sup', 'kc-cite');
    const href = citation?.url ? sourceHref(citation.url) : null;
    if (href) {
      const a = link(href, `[${n}]`);
      a.title = citation!.title;
      sup.append(a);
    } else {
      sup.textContent = `[${n}]`;
      if (citation) sup.title = citation.title;
    }
    return sup;
  }

  /** Renders the answer's final form: text, source list, feedback and copy. */
  private completeAnswer(answer: Answer, message: Message, conversationId: string): void {
    if (answer.frame !== null) cancelAnimationFrame(answer.frame);
    answer.frame = null;
    answer.text = message.content;
    answer.citations = Array.isArray(message.citations) ? message.citations : [];
    this.renderAnswer(answer);
    answer.node.dataset.messageId = message.id;
    answer.node.removeAttribute('aria-busy');
    if (answer.citations.length > 0) answer.node.append(this.sourceList(answer.citations));
    const actions = this.actions(message, conversationId, answer.body);
    if (actions) answer.node.append(actions);
  }

  private finishedAnswer(message: Message, conversationId: string): HTMLElement {
    const answer = this.newAnswer();
    this.completeAnswer(answer, message, conversationId);
    return answer.node;
  }

  private sourceList(citations: Citation[]): HTMLElement {
    const list = el('div', 'kc-citations');
    list.setAttribute('aria-label', this.t.sources);
    const seen = new Set<string>();
    for (const citation of citations) {
      const label = `[${citation.n}] ${citation.title}`;
      const href = citation.url ? sourceHref(citation.url) : null;
      if (seen.has(href ?? label)) continue;
      seen.add(href ?? label);
      list.append(href ? link(href, label) : el('span', undefined, label));
    }
    return list;
  }

  private actions(message: Message, conversationId: string, body: HTMLElement): HTMLElement | null {
    const { feedback, copy } = this.config.features;
    if (!feedback && !copy) return null;
    const bar = el('div', 'kc-actions');
    if (feedback && message.role === 'assistant') {
      const up = this.actionButton('kc-feedback-up', svg(THUMB_ICON, true), this.t.thumbsUp);
      const down = this.actionButton('kc-feedback-down', svg(THUMB_ICON, true, true), this.t.thumbsDown);
      up.setAttribute('aria-pressed', String(message.myRating === 'up'));
      down.setAttribute('aria-pressed', String(message.myRating === 'down'));
      const rate = async (rating: 'up' | 'down') => {
        try {
          await this.api.feedback(conversationId, message.id, rating);
          up.setAttribute('aria-pressed', String(rating === 'up'));
          down.setAttribute('aria-pressed', String(rating === 'down'));
        } catch (err) {
          this.fail(err);
        }
      };
      up.addEventListener('click', () => void rate('up'));
      down.addEventListener('click', () => void rate('down'));
      bar.append(up, down);
    }
    if (copy) {
      const button = this.actionButton('kc-copy', svg(COPY_ICON, true), this.t.copy);
      button.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(body.innerText || body.textContent || '');
          button.setAttribute('aria-label', this.t.copied);
          button.title = this.t.copied;
          setTimeout(() => {
            button.setAttribute('aria-label', this.t.copy);
            button.title = this.t.copy;
          }, 2000);
        } catch {
          // Clipboard refused (permissions, insecure page): nothing to copy into.
        }
      });
      bar.append(button);
    }
    return bar;
  }

  private actionButton(className: string, icon: SVGSVGElement, label: string): HTMLButtonElement {
    const button = el('button', className);
    button.type = 'button';
    button.setAttribute('aria-label', label);
    button.title = label;
    button.append(icon);
    return button;
  }

  // --- sending ------------------------------------------------------------------------------
  async send(raw: string): Promise<void> {
    const text = raw.trim();
    if (!text || this.busy || this.disabled || this.input.disabled) return;
    this.suggestions.hidden = true;
    this.input.value = '';
    const userNode = this.bubble('user', text);
    const answer = this.beginTurn(userNode);
    try {
      await this.turn(text, userNode, answer, true);
    } catch (err) {
      answer.node.remove();
      this.fail(err);
    } finally {
      this.endTurn();
    }
  }

  /** A turn starts (a message or a decision): sending waits, the error goes, and the answer's bubble shows (after `userNode`, when given). */
  private beginTurn(userNode?: HTMLElement): Answer {
    this.busy = true;
    this.sendButton.disabled = true;
    this.hideError();
    if (userNode) this.log.append(userNode);
    const answer = this.newAnswer();
    this.log.append(answer.node);
    this.scrollToEnd();
    return answer;
  }

  private endTurn(): void {
    this.busy = false;
    this.sendButton.disabled = false;
    // What the socket brought meanwhile, minus what this turn showed itself.
    for (const message of this.held.splice(0)) this.liveMessage(message);
    this.goLive();
  }

  private async turn(text: string, userNode: HTMLElement, answer: Answer, mayRestart: boolean): Promise<void> {
    let conversationId = this.store.get().conversationId;
    try {
      await this.api.chat(
        text,
        conversationId,
        this.answerHandlers(answer, () => conversationId!, (meta) => {
          if (meta.conversationId !== conversationId) {
            // A new conversation (the first message, or the remembered one was gone): the socket follows it.
            this.live.stop();
            this.status = null;
          }
          conversationId = meta.conversationId;
          this.store.update({ conversationId });
          userNode.dataset.messageId = meta.userMessageId;
          this.remember(meta.userMessageId);
          this.updateHandoff();
          this.emit('message', { id: meta.userMessageId, conversationId, role: 'user', content: text });
        }),
      );
    } catch (err) {
      // The remembered conversation is gone or closed: the message starts a new one instead.
      const stale = err instanceof WidgetError && (err.code === 'conversation_not_found' || err.code === 'conversation_closed');
      if (stale && mayRestart && this.store.get().conversationId) {
        this.store.update({ conversationId: undefined });
        return this.turn(text, userNode, answer, false);
      }
      throw err;
    }
  }

  /** How an answer streams in, for a new turn and for one resumed by a decision; `meta` is the caller's. */
  private answerHandlers(answer: Answer, conversationId: () => string, meta: ChatHandlers['meta']): ChatHandlers {
    return {
      meta,
      token: (chunk) => {
        answer.text += chunk;
        answer.frame ??= requestAnimationFrame(() => {
          answer.frame = null;
          this.renderAnswer(answer);
          this.scrollToEnd();
        });
      },
      citations: (citations) => {
        answer.citations = citations;
      },
      done: (message) => {
        this.completeAnswer(answer, message, conversationId());
        this.remember(message.id);
        this.scrollToEnd();
        this.emit('message', message);
        if (this.config.leadForm.when === 'after_first_answer') this.offerLead();
      },
      // The card goes where the answer would have been; `paused` then removes the empty answer.
      confirmation: (confirmation) => this.showConfirmation(confirmation, answer.node),
      paused: (reason) => {
        if (reason === 'confirmation') {
          answer.node.remove();
          return;
        }
        answer.node.replaceWith(el('div', 'kc-note', this.t.paused));
        if (this.config.leadForm.when === 'on_handoff') this.offerLead();
      },
    };
  }

  // --- action confirmations (issue #11) -----------------------------------------------------------
  /**
   * A card asking the visitor to allow an action: its name and a one-line summary of its
   * arguments (model output: text nodes only, bounded, confirm.ts). Once per confirmation id.
   */
  private showConfirmation(confirmation: Confirmation, before?: HTMLElement): void {
    const { conversationId } = this.store.get();
    if (!conversationId || this.confirmations.has(confirmation.confirmationId)) return;
    const t = this.t;
    const card = el('div', 'kc-confirm');
    card.dataset.confirmationId = confirmation.confirmationId;
    card.setAttribute('role', 'group');
    card.setAttribute('aria-label', `${t.confirmTitle} ${confirmation.action}`);
    const title = el('p', 'kc-confirm-title', `${t.confirmTitle} `);
    title.append(el('strong', 'kc-confirm-action', confirmation.action));
    card.append(title);
    const summary = summarizeArguments(confirmation.arguments);
    if (summary) card.append(el('p', 'kc-confirm-args', summary));
    const buttons = el('div', 'kc-confirm-buttons');
    const outcome = el('p', 'kc-confirm-outcome');
    outcome.setAttribute('role', 'status');
    outcome.hidden = true;
    const button = (className: string, label: string, approve: boolean) => {
      const b = el('button', className, label);
      b.type = 'button';
      b.setAttribute('aria-label', `${label}: ${confirmation.action}`);
      b.addEventListener('click', () => void this.decide(conversationId, confirmation.confirmationId, approve, buttons, outcome));
      return b;
    };
    buttons.append(button('kc-confirm-approve', t.allow, true), button('kc-confirm-reject', t.deny, false));
    card.append(buttons, outcome);
    if (before?.isConnected) before.before(card);
    else this.log.append(card);
    this.confirmations.set(confirmation.confirmationId, card);
    this.suggestions.hidden = true;
    this.scrollToEnd();
  }

  /** Sends the visitor's decision over HTTP; the resumed answer streams below like any answer. */
  private async decide(conversationId: string, confirmationId: string, approve: boolean, buttons: HTMLElement, outcome: HTMLElement): Promise<void> {
    if (this.busy || this.disabled) return;
    const t = this.t;
    const enable = (on: boolean) => {
      for (const b of Array.from(buttons.querySelectorAll('button'))) b.disabled = !on;
    };
    const say = (text: string) => {
      outcome.textContent = text;
      outcome.hidden = false;
    };
    enable(false);
    // The pressed button is disabled now: keep keyboard focus inside the panel.
    this.input.focus();
    const answer = this.beginTurn();
    let accepted = false;
    try {
      await this.api.decide(
        conversationId,
        confirmationId,
        approve,
        this.answerHandlers(answer, () => conversationId, () => {
          accepted = true;
          say(approve ? t.allowed : t.denied);
        }),
      );
    } catch (err) {
      answer.node.remove();
      // Once the resumed turn started, the decision stands whatever broke afterwards.
      const refusal = !accepted && err instanceof WidgetError ? refusalOf(err.status, err.code) : 'final';
      if (refusal === 'expired') say(t.confirmExpired);
      else if (refusal === 'decided') say(t.confirmDecided);
      else {
        if (refusal === 'retry') enable(true);
        this.fail(err);
      }
    } finally {
      this.endTurn();
    }
  }

  // --- live: the team's side, the handoff button ----------------------------------------------
  /** Connects the visitor socket while the panel is open on an existing conversation. */
  private goLive(): void {
    if (this.isOpen() && !this.disabled && this.store.get().conversationId) this.live.start();
  }

  private remember(id: string): void {
    this.shown.add(id);
    this.live.lastMessageId = id;
  }

  /** Appends a stored message unless it is shown already; false when it was (or is not for the visitor's eyes). */
  private show(message: Message): boolean {
    if (this.shown.has(message.id)) return false;
    const { role } = message;
    if (role === 'user') this.log.append(this.bubble('user', message.content, message.id));
    else if (role === 'agent') this.log.append(this.bubble('agent', message.content, message.id));
    else if (role === 'assistant') this.log.append(this.finishedAnswer(message, message.conversationId));
    else return false;
    this.remember(message.id);
    this.suggestions.hidden = true;
    return true;
  }

  private liveMessage(message: Message): void {
    // A failed answer: the HTTP turn that asked reported it already.
    if ((message as { error?: unknown }).error || !this.show(message)) return;
    if (message.role === 'agent') this.hideAgentTyping();
    this.scrollToEnd();
    this.emit('message', message);
    if (message.role !== 'user' && this.isOpen()) this.live.read(message.id);
  }

  private setStatus(status: string): void {
    const before = this.status;
    this.status = status;
    if (before !== null && before !== status) {
      if (status === 'human') this.note(this.t.joined);
      else if (before === 'human' && status === 'open') this.note(this.t.botBack);
    }
    this.updateHandoff();
  }

  private note(text: string): void {
    const node = el('div', 'kc-note kc-status', text);
    node.setAttribute('role', 'status');
    this.log.append(node);
    this.scrollToEnd();
  }

  /** "Talk to a human": only on a conversation the bot answers (hidden while a person is asked for or there). */
  private updateHandoff(): void {
    this.handoffButton.hidden = !(this.config.handoff?.enabled && !this.disabled && this.store.get().conversationId && (this.status ?? 'open') === 'open');
  }

  private async requestHandoff(): Promise<void> {
    const { conversationId } = this.store.get();
    if (!conversationId) return;
    this.handoffButton.disabled = true;
    this.hideError();
    try {
      const reply = await this.api.handoff(conversationId, this.t.code);
      if (reply.notice && this.show(reply.notice)) this.scrollToEnd();
      this.setStatus(reply.conversationStatus);
      if (reply.handoff?.askForEmail || this.config.leadForm.when === 'on_handoff') this.offerLead();
      this.goLive();
    } catch (err) {
      this.fail(err);
    } finally {
      this.handoffButton.disabled = false;
    }
  }

  private showAgentTyping(): void {
    if (!this.agentTyping) {
      this.agentTyping = el('div', 'kc-live-typing');
      const dots = el('span', 'kc-typing');
      dots.setAttribute('role', 'status');
      dots.setAttribute('aria-label', this.t.agentTyping);
      dots.append(el('i'), el('i'), el('i'));
      this.agentTyping.append(dots);
    }
    this.log.append(this.agentTyping);
    this.scrollToEnd();
    clearTimeout(this.agentTypingTimer);
    this.agentTypingTimer = setTimeout(() => this.hideAgentTyping(), WIDGET_CLIENT.liveTypingShownMs);
  }

  private hideAgentTyping(): void {
    clearTimeout(this.agentTypingTimer);
    this.agentTyping?.remove();
  }

  // --- lead form ----------------------------------------------------------------------------
  private offerLead(): void {
    if (this.config.leadForm.enabled && !this.store.get().leadDone) this.showLeadForm();
  }

  private showLeadForm(): void {
    const { fields, when } = this.config.leadForm;
    if (this.leadShown || fields.length === 0) return;
    this.leadShown = true;
    const gate = when === 'before_chat';
    const t = this.t;
    const form = el('form', 'kc-lead');
    form.noValidate = true;
    form.setAttribute('aria-label', t.leadTitle);
    form.append(el('p', undefined, t.leadTitle));
    const inputs = new Map<string, { input: HTMLInputElement; error: HTMLElement; required: boolean }>();
    for (const { field, required } of fields) {
      const label = el('label');
      const input = el('input');
      input.name = field;
      input.type = field === 'email' ? 'email' : field === 'phone' ? 'tel' : 'text';
      input.autocomplete = field === 'phone' ? 'tel' : field;
      input.maxLength = field === 'name' ? LEADS.maxNameChars : field === 'email' ? LEADS.maxEmailChars : 64;
      input.required = required;
      const prefill = field === 'name' ? this.prefill.name : field === 'email' ? this.prefill.email : undefined;
      if (prefill) input.value = prefill;
      const error = el('span', 'kc-field-error');
      error.id = `kc-lead-${field}-error`;
      input.setAttribute('aria-describedby', error.id);
      const caption = { name: t.leadName, email: t.leadEmail, phone: t.leadPhone }[field];
      label.append(el('span', undefined, required ? `${caption} *` : caption), input, error);
      form.append(label);
      inputs.set(field, { input, error, required });
    }
    const submit = el('button', undefined, t.leadSubmit);
    submit.type = 'submit';
    form.append(submit);
    if (gate) {
      this.input.disabled = true;
      this.sendButton.disabled = true;
    }
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const values: Record<string, string> = {};
      const problems = new Map<string, string>();
      for (const [field, { input, required }] of inputs) {
        const value = input.value.trim();
        if (value) values[field] = value;
        const message = leadFieldProblem(field, value, required, t);
        if (message) problems.set(field, message);
      }
      if (!values.email && !values.phone && (inputs.has('email') || inputs.has('phone'))) {
        problems.set(inputs.has('email') ? 'email' : 'phone', problems.get(inputs.has('email') ? 'email' : 'phone') ?? t.emailOrPhone);
      }
      const show = () => {
        let first: HTMLInputElement | null = null;
        for (const [field, { input, error }] of inputs) {
          const message = problems.get(field) ?? '';
          error.textContent = message;
          input.setAttribute('aria-invalid', String(message !== ''));
          if (message && !first) first = input;
        }
        (first as HTMLInputElement | null)?.focus();
      };
      show();
      if (problems.size > 0) return;
      submit.disabled = true;
      try {
        await this.api.lead(values, this.store.get().conversationId);
        this.store.update({ leadDone: true });
        const done = el('div', 'kc-lead-done kc-note', t.leadDone);
        done.setAttribute('role', 'status');
        form.replaceWith(done);
        if (gate) {
          this.input.disabled = false;
          this.sendButton.disabled = false;
        }
        // The focused submit button is gone: keep keyboard users inside the panel.
        this.input.focus();
      } catch (err) {
        submit.disabled = false;
        if (err instanceof WidgetError && err.errors.length > 0) {
          for (const e of err.errors) if (inputs.has(e.path)) problems.set(e.path, e.message);
          show();
        } else {
          this.fail(err);
        }
      }
    });
    this.log.append(form);
    this.scrollToEnd();
  }

  // --- errors -------------------------------------------------------------------------------
  fail(err: unknown): void {
    const error = err instanceof WidgetError ? err : new WidgetError(0, 'error', String(err));
    this.showError(error);
    this.emit('error', { code: error.code, status: error.status, message: this.errorText(error) });
  }

  private errorText(error: WidgetError): string {
    const t = this.t;
    if (error.code === 'network') return t.errNetwork;
    if (error.status === 403) return t.errOrigin;
    if (error.status === 429) return t.errQuota;
    if (error.code === 'bot_not_found') return t.errNotFound;
    // Other 4xx problems carry a sentence written for people (too long, paused bot, ...).
    return error.status >= 400 && error.status < 500 && error.message ? error.message : t.errGeneric;
  }

  private showError(error: WidgetError): void {
    this.errorBox.textContent = this.errorText(error);
    this.errorBox.hidden = false;
  }

  private hideError(): void {
    this.errorBox.hidden = true;
    this.errorBox.textContent = '';
  }
}

/** A citation's source URL as a link target: markdown's safeHref, http(s) only (a document URL comes from a crawl or an upload's metadata). */
function sourceHref(url: string): string | null {
  const href = safeHref(url);
  return href && /^https?:/.test(href) ? href : null;
}
