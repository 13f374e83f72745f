/**
 * Entry of the embeddable script (an IIFE): finds its own <script> tag, loads the bot's public
 * config from the API origin (the script's own origin unless data-api-base says otherwise),
 * mounts the UI and exposes window.KyroChat. Calls made before the widget is ready are kept and
 * replayed, so a host may call KyroChat.open() right after the tag.
 */
import { WidgetApi, WidgetError, type WidgetConfig } from './api';
import { pickLang, STRINGS } from './i18n';
import { browserStorage, VisitorStore } from './storage';
import { WidgetUi, type WidgetEvent } from './ui';

interface KyroChatApi {
  open(): void;
  close(): void;
  identify(identity: { userId: string; hash: string; name?: string; email?: string }): Promise<void>;
  on(event: WidgetEvent, fn: (detail?: unknown) => void): () => void;
}

declare global {
  interface Window {
    KyroChat?: KyroChatApi;
  }
}

/** Used only when the config cannot be loaded: enough to show the launcher and the error. */
const FALLBACK: WidgetConfig = {
  botId: '',
  name: 'Chat',
  appearance: { theme: 'auto', brandColor: '#2563eb', position: 'right', avatarUrl: null, title: 'Chat' },
  messages: { initial: [], suggestedQuestions: [], placeholder: '' },
  leadForm: { enabled: false, fields: [], when: 'after_first_answer' },
  features: { feedback: false, copy: false, history: false },
  lang: 'auto',
  branding: { poweredBy: true },
};

function ownScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.botId) return current;
  return document.querySelector<HTMLScriptElement>('script[data-bot-id][src*="widget"]');
}

function boot(): void {
  if (window.KyroChat) return; // The tag is on the page twice: one widget is enough.
  const script = ownScript();
  const botId = script?.dataset.botId;
  if (!script || !botId) {
    console.error('[KyroChat] The widget script needs data-bot-id="bot_…".');
    return;
  }
  let base: string;
  try {
    base = new URL(script.dataset.apiBase || script.src, location.href).origin;
  } catch {
    console.error('[KyroChat] data-api-base is not a URL.');
    return;
  }

  let ui: WidgetUi | null = null;
  let ready = false;
  const queued: ((ui: WidgetUi) => void)[] = [];
  const whenReady = (fn: (ui: WidgetUi) => void) => (ui ? fn(ui) : queued.push(fn));

  window.KyroChat = {
    open: () => whenReady((w) => w.open()),
    close: () => whenReady((w) => w.close()),
    identify: ({ userId, hash, name, email }) =>
      new Promise<void>((resolve) => whenReady((w) => void w.identify({ userId, hash }, { name, email }).then(resolve))),
    on(event, fn) {
      if (ui) {
        // 'ready' already happened: a late listener still hears it (once, asynchronously).
        if (event === 'ready' && ready) queueMicrotask(() => fn());
        return ui.on(event, fn);
      }
      // Registered before the widget exists: attached when it does (before 'ready' fires).
      let active = true;
      let off: (() => void) | null = null;
      whenReady((w) => {
        if (active) off = w.on(event, fn);
      });
      return () => {
        active = false;
        off?.();
      };
    },
  };

  const store = new VisitorStore(botId, browserStorage());
  const api = new WidgetApi(base, botId, store);
  const mount = (config: WidgetConfig, error?: WidgetError) => {
    const lang = pickLang(script.dataset.lang, config.lang, navigator.languages ?? [navigator.language]);
    const widget = new WidgetUi(api, store, config, STRINGS[lang]);
    ui = widget;
    for (const fn of queued.splice(0)) fn(widget);
    if (error) {
      widget.disable(error);
    } else {
      ready = true;
      widget.emit('ready');
    }
  };
  api.config().then(
    (config) => mount(config),
    (err: unknown) => mount(FALLBACK, err instanceof WidgetError ? err : new WidgetError(0, 'network', String(err))),
  );
}

// A tag without defer in <head> runs before <body> exists: wait for it (ownScript finds the tag again).
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
