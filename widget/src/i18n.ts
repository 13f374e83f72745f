/** The widget's own strings (the bot's texts come from its config), English and German. */
export const STRINGS = {
  en: {
    code: 'en',
    open: 'Open chat',
    close: 'Close chat',
    message: 'Message',
    send: 'Send',
    thumbsUp: 'Helpful',
    thumbsDown: 'Not helpful',
    copy: 'Copy answer',
    copied: 'Copied',
    sources: 'Sources',
    typing: 'The assistant is typing',
    powered: 'Powered by KyroChat',
    leadTitle: 'Leave your details and we will get back to you.',
    leadName: 'Name',
    leadEmail: 'Email',
    leadPhone: 'Phone',
    leadSubmit: 'Send details',
    leadDone: 'Thanks, we received your details.',
    required: 'Required',
    invalidEmail: 'Enter a valid email address',
    invalidPhone: 'Enter an international number, like +49 30 1234567',
    emailOrPhone: 'Enter an email address or a phone number',
    errOrigin: 'This chat is not enabled on this website.',
    errQuota: 'Too many messages right now. Please try again in a moment.',
    errNetwork: 'Cannot reach the chat service. Check your connection and try again.',
    errNotFound: 'This chat is not available.',
    errGeneric: 'Something went wrong. Please try again.',
    paused: 'A team member will reply here.',
    handoff: 'Talk to a human',
    agent: 'Team',
    agentTyping: 'A team member is typing',
    joined: 'A person has joined',
    botBack: 'The bot is back',
    confirmTitle: 'The assistant wants to run an action:',
    allow: 'Allow',
    deny: "Don't allow",
    allowed: 'Allowed. The assistant continues.',
    denied: 'Not allowed. Nothing ran.',
    confirmExpired: 'This request expired; nothing ran.',
    confirmDecided: 'This request was already decided.',
  },
  de: {
    code: 'de',
    open: 'Chat öffnen',
    close: 'Chat schließen',
    message: 'Nachricht',
    send: 'Senden',
    thumbsUp: 'Hilfreich',
    thumbsDown: 'Nicht hilfreich',
    copy: 'Antwort kopieren',
    copied: 'Kopiert',
    sources: 'Quellen',
    typing: 'Der Assistent schreibt',
    powered: 'Powered by KyroChat',
    leadTitle: 'Hinterlassen Sie Ihre Kontaktdaten, wir melden uns.',
    leadName: 'Name',
    leadEmail: 'E-Mail',
    leadPhone: 'Telefon',
    leadSubmit: 'Daten senden',
    leadDone: 'Danke, wir haben Ihre Daten erhalten.',
    required: 'Pflichtfeld',
    invalidEmail: 'Bitte eine gültige E-Mail-Adresse eingeben',
    invalidPhone: 'Bitte eine internationale Nummer eingeben, z. B. +49 30 1234567',
    emailOrPhone: 'Bitte eine E-Mail-Adresse oder Telefonnummer eingeben',
    errOrigin: 'Dieser Chat ist auf dieser Website nicht freigeschaltet.',
    errQuota: 'Gerade zu viele Nachrichten. Bitte gleich noch einmal versuchen.',
    errNetwork: 'Der Chat-Dienst ist nicht erreichbar. Bitte Verbindung prüfen und erneut versuchen.',
    errNotFound: 'Dieser Chat ist nicht verfügbar.',
    errGeneric: 'Etwas ist schiefgelaufen. Bitte erneut versuchen.',
    paused: 'Ein Teammitglied antwortet hier.',
    handoff: 'Mit einem Menschen sprechen',
    agent: 'Team',
    agentTyping: 'Ein Teammitglied schreibt',
    joined: 'Eine Person ist dazugekommen',
    botBack: 'Der Bot ist wieder da',
    confirmTitle: 'Der Assistent möchte eine Aktion ausführen:',
    allow: 'Erlauben',
    deny: 'Nicht erlauben',
    allowed: 'Erlaubt. Der Assistent macht weiter.',
    denied: 'Nicht erlaubt. Es wurde nichts ausgeführt.',
    confirmExpired: 'Diese Anfrage ist abgelaufen; es wurde nichts ausgeführt.',
    confirmDecided: 'Über diese Anfrage wurde schon entschieden.',
  },
} as const;

export type Lang = keyof typeof STRINGS;
export type Strings = { readonly [K in keyof (typeof STRINGS)['en']]: string };

const supported = (value: string | null | undefined): Lang | null => {
  const base = (value ?? '').trim().toLowerCase().split(/[-_]/)[0];
  return base === 'en' || base === 'de' ? base : null;
};

/** The embed's `data-lang` first, then the bot's config (unless `auto`), then the browser, then English. */
export function pickLang(dataLang: string | null | undefined, configLang: string | null | undefined, browserLangs: readonly string[]): Lang {
  const fromData = supported(dataLang);
  if (fromData) return fromData;
  if (configLang && configLang !== 'auto') {
    const fromConfig = supported(configLang);
    if (fromConfig) return fromConfig;
  }
  for (const lang of browserLangs) {
    const fromBrowser = supported(lang);
    if (fromBrowser) return fromBrowser;
  }
  return 'en';
}
