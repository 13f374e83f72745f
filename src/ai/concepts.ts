/**
 * A small, general English thesaurus for the offline embedder: words (and a few two-word
 * phrases) that mean the same thing in product documentation and support conversations share
 * a concept feature. BM25 matches only the words a question uses; these shared concepts are
 * what lets the offline vector side find "get my money back" in a page about refunds, so
 * hybrid search has something to add to keyword search. A real embedding model supersedes
 * this entirely; it exists so the zero-configuration default is not purely lexical.
 *
 * Groups are written from general vocabulary, not from any corpus. Keep them tight: a word
 * belongs to a group only when it is a near-synonym in this domain, otherwise it blurs topics.
 */
const GROUPS: readonly string[] = [
  // money and billing
  'refund reimburse reimbursement repay repayment chargeback money-back',
  'pay payment paid charge charged billing bill invoice invoiced receipt',
  'price pricing cost costs fee fees tariff',
  'subscription plan tier package membership seat license licence',
  'cancel cancellation unsubscribe terminate termination',
  'pause suspend freeze hold',
  'discount coupon promo promotion voucher',
  'card credit debit visa mastercard',
  'decline declined bounce bounced failed fail failure reject rejected',
  'annual yearly year twelve-month',
  'monthly month',
  'upgrade downgrade',
  'compensation credit credits refund',
  // accounts, identity, access
  'login log-in logon sign-in signin authenticate authentication credential credentials',
  'logout log-out sign-out signout',
  'password passphrase passcode pin',
  'account profile',
  'user person people member members staff employee employees colleague colleagues teammate teammates agent agents',
  'admin administrator owner manager',
  'role permission permissions privilege privileges access rights',
  'sso saml okta azure directory idp identity-provider single-sign-on federated',
  'provision provisioning deprovision deprovisioning scim onboarding offboarding',
  'two-factor 2fa mfa multi-factor authenticator otp totp verification one-time',
  'recover recovery restore regain reset',
  'lock locked lockout blocked',
  'invite invitation onboard',
  'leave leaves leaving depart departure quit offboard',
  'impersonate impersonation spoof spoofing forge forged fake',
  'verify verification verified prove proof authenticity signature signed signing hmac',
  'secret token key credential',
  // data and privacy
  'delete deletion erase erasure remove removal wipe purge destroy forget',
  'retain retention keep kept store stored storage archive archived',
  'export download extract backup snapshot dump copy',
  'import upload ingest migrate migration',
  'privacy gdpr ccpa personal pii consent',
  'location region residency datacenter data-center country europe eu',
  'encrypt encryption encrypted cipher',
  'log logs audit trail history record records activity',
  'spreadsheet csv excel xlsx',
  // time
  'day days daily',
  'week weeks weekly weekend',
  'hour hours hourly',
  'minute minutes',
  'expire expiry expiration expires lapse',
  'schedule scheduled recurring periodic',
  'temporarily temporary pause',
  // messaging and support
  'chat chats conversation conversations message messages thread threads transcript transcripts',
  'notify notification notifications alert alerts ping push reminder',
  'email mail e-mail inbox mailbox',
  'reply replies respond response answer answered',
  'ticket tickets case cases request requests inquiry',
  'customer customers client clients visitor visitors contact contacts end-user',
  'assign assignment route routing distribute distribution round-robin queue',
  'satisfaction csat survey surveys rating ratings feedback pleased happy',
  'average mean median typical',
  'speed fast quick quickly latency slow',
  'report reports analytics metrics statistics stats dashboard insights',
  'widget bubble launcher icon embed snippet',
  'color colour colors colours brand branding theme style styling appearance',
  'position left right corner placement',
  'customize customise customization customisation personalize configure configuration settings',
  'mobile phone ios android app apps sdk',
  'slack teams discord chat-tool',
  'integration integrations connector connect plugin',
  // developer
  'api endpoint endpoints rest',
  'webhook webhooks callback callbacks event events',
  'retry retries redeliver redelivery resend attempt attempts',
  'throttle throttled throttling limit limits rate-limit quota',
  'error errors exception',
  'version versioning versions deprecate deprecation deprecated breaking backward compatibility',
  'sandbox test testing staging playground trial',
  'production prod',
  'paginate pagination cursor offset',
  'header headers',
  'csp content-security-policy',
  'block blocked blocking prevent forbid',
  'domain domains origin origins website site url',
  // reliability
  'outage down downtime offline unavailable unreachable incident',
  'uptime availability sla status reliability',
  'lose lost loss missing disappear disappeared vanish vanished gone',
  'receive received deliver delivered delivery arrive arrived',
  'server machine host endpoint',
  'install installation setup set-up deploy deployment',
  'help support assist assistance',
  'free cost-free no-charge complimentary',
  'read view viewer read-only readonly',
  'fair fairly evenly balanced equal',
  'forgot forgotten recall remember',
  'device phone laptop',
];

/** Two-word phrases that name a concept as a unit ("money back", "sign in"). */
const PHRASES: Readonly<Record<string, string>> = {
  'money back': 'refund',
  'sign in': 'login',
  'log in': 'login',
  'sign out': 'logout',
  'log out': 'logout',
  'single sign': 'sso',
  'two factor': 'two-factor',
  'rate limit': 'throttle',
  'end user': 'customer',
  'set up': 'install',
  'read only': 'read',
  'down time': 'outage',
  'time out': 'timeout',
};

/** Normalises a lexicon entry the way text-features tokenizes and stems words. */
export type StemFn = (word: string) => string;

let conceptByStem: Map<string, string> | null = null;

function buildIndex(stem: StemFn): Map<string, string> {
  const index = new Map<string, string>();
  for (const group of GROUPS) {
    const words = group.split(' ');
    const concept = words[0]!;
    for (const word of words) {
      // Hyphenated entries are spelling variants of a compound; the tokenizer splits them, so
      // they are reached through PHRASES or their parts, and only single words are indexed here.
      if (word.includes('-')) continue;
      const key = stem(word);
      // First group wins: a word in two groups keeps its more specific (earlier) meaning.
      if (!index.has(key)) index.set(key, concept);
    }
  }
  return index;
}

/** The concept of a stemmed word, if the thesaurus has one. */
export function conceptOf(stemmedWord: string, stem: StemFn): string | undefined {
  conceptByStem ??= buildIndex(stem);
  return conceptByStem.get(stemmedWord);
}

/** The concept named by two consecutive (lowercased) words, if any. */
export function phraseConcept(previousWord: string, word: string, stem: StemFn): string | undefined {
  const target = PHRASES[`${previousWord} ${word}`];
  return target === undefined ? undefined : (conceptOf(stem(target), stem) ?? target);
}
