/**
 * What an action is and the rules it must satisfy when it is saved: a tool-safe unique name, a
 * JSON Schema for its parameters, and a type with its config. `http` and `email` templates may
 * only name declared arguments and org settings secrets; a credential written inline (an
 * Authorization header without a secret reference, a token-shaped literal) is refused, because
 * an action's config is readable by every member and copied into every run's log.
 */
import { checkUrl, type EgressPolicy } from '../../egress';
import type { ActionType } from '../../db/schema';
import { ACTIONS, MAIL } from '../../limits';
import { SECRET_NAME_PATTERN } from '../settings/service';
import { normalizeEmail } from '../leads/validate';
import { schemaProblems } from './json-schema';
import { scanTemplate, stringsIn, type Placeholder } from './templates';

export const ACTION_NAME_PATTERN = new RegExp(`^[a-zA-Z0-9_-]{1,${ACTIONS.maxNameChars}}$`);
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export interface HttpConfig {
  method: (typeof HTTP_METHODS)[number];
  urlTemplate: string;
  headers: Record<string, string>;
  /** A JSON value; strings in it may hold placeholders. null: no body. */
  bodyTemplate: unknown;
}

export interface EmailConfig {
  /** A fixed address, or exactly one `{{args.x}}` placeholder. */
  to: string;
  subject: string;
  bodyTemplate: string;
}

/** A built-in's parameters are its own: the model calls it with exactly these. */
export type BuiltinType = 'collect_lead' | 'search_knowledge' | 'handoff_to_human';

export const BUILTIN_PARAMETERS: Record<BuiltinType, Record<string, unknown>> = {
  handoff_to_human: {
    type: 'object',
    properties: { reason: { type: 'string', maxLength: 500, description: 'Why a person should take over (shown to the team)' } },
    additionalProperties: false,
  },
  collect_lead: {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 200, description: "The person's name" },
      email: { type: 'string', maxLength: 254, description: 'Their email address' },
      phone: { type: 'string', maxLength: 32, description: 'Their phone number, with country code' },
    },
    additionalProperties: false,
  },
  search_knowledge: {
    type: 'object',
    properties: { query: { type: 'string', minLength: 1, maxLength: 1000, description: 'What to look up in the knowledge base' } },
    required: ['query'],
    additionalProperties: false,
  },
};

export const isBuiltin = (type: ActionType): type is BuiltinType => type === 'collect_lead' || type === 'search_knowledge' || type === 'handoff_to_human';

/** The saved shape after merging a create or a patch with what is stored. */
export interface ActionDefinition {
  name: string;
  description: string;
  type: ActionType;
  parameters: Record<string, unknown>;
  http: HttpConfig | null;
  email: EmailConfig | null;
}

export interface DefinitionProblem {
  path: string;
  message: string;
  code: string;
}

/** Headers the platform sets itself, or that would let a template re-route the request. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection', 'expect']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
/** Header names that carry credentials: their value must come from a secret. */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie)$|api[-_]?key|token|secret|password|auth/i;
/** Query parameter names that carry credentials. */
const CREDENTIAL_PARAM = /^(api[-_]?key|key|token|access[-_]?token|secret|password|signature|sig|auth)$/i;
/** Literals shaped like real credentials (provider key prefixes, AWS ids, bearer tokens, long random strings). */
const CREDENTIAL_SHAPES = [
  /\b(sk|pk|rk)[-_](live|test|proj|ant)?[-_]?[A-Za-z0-9]{16,}/,
  /\b(ghp|gho|ghs|github_pat|glpat|xox[abprs]|kc_live)[-_][A-Za-z0-9_-]{10,}/,
  /\bAKIA[0-9A-Z]{16}\b/,
  /\bBearer\s+[A-Za-z0-9._~+/=-]{16,}/i,
  /\bBasic\s+[A-Za-z0-9+/=]{12,}/i,
  /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/,
];

/**
 * An unbroken run of 32+ letters and digits, both mixed in: a hex or base62 key, not a word or a
 * path (separators break runs, so URL paths and UUIDs do not match).
 */
function looksRandom(text: string): boolean {
  return (text.match(/[A-Za-z0-9]{32,}/g) ?? []).some((run) => /[0-9]/.test(run) && /[a-z]/i.test(run));
}

function inlineCredential(text: string): boolean {
  const literal = text.replace(/\{\{[^}]*\}\}/g, ' ');
  return CREDENTIAL_SHAPES.some((r) => r.test(literal)) || looksRandom(literal);
}

export function definitionProblems(def: ActionDefinition, egress: EgressPolicy): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const add = (path: string, message: string, code = 'invalid') => problems.push({ path, message, code });
  if (!ACTION_NAME_PATTERN.test(def.name)) add('name', `Letters, digits, _ and - only, 1 to ${ACTIONS.maxNameChars} characters (a tool name)`);
  if (!def.description.trim()) add('description', 'Tell the model what the action does and when to use it');

  if (isBuiltin(def.type)) return problems;

  for (const p of schemaProblems(def.parameters)) add(`parameters${p.path.replace(/\//g, '.')}`, p.message, 'invalid_schema');
  const declared = new Set(Object.keys((def.parameters.properties as Record<string, unknown> | undefined) ?? {}));
  const checkPlaceholders = (path: string, text: string, allowSecrets: boolean) => {
    const scan = scanTemplate(text);
    if (scan.malformed) add(path, 'Placeholders are {{args.NAME}} or {{secrets.NAME}}; nothing else may stand in {{ }}', 'invalid_template');
    for (const p of scan.placeholders) placeholderProblem(p, path, declared, allowSecrets, add);
  };

  if (def.type === 'http') {
    const http = def.http;
    if (!http) return [...problems, { path: 'http', message: 'An http action needs its http config', code: 'invalid' }];
    let templateBytes = http.urlTemplate.length + JSON.stringify(http.headers).length;
    checkPlaceholders('http.urlTemplate', http.urlTemplate, true);
    const origin = /^https?:\/\/[^/?#]*/i.exec(http.urlTemplate)?.[0];
    if (!origin) add('http.urlTemplate', 'Must be an absolute http(s) URL');
    else if (origin.includes('{{')) add('http.urlTemplate', 'The scheme and host must be fixed: placeholders go in the path or the query', 'invalid_template');
    else {
      // The template's fixed host must pass the egress policy now; every run is checked again.
      const check = checkUrl(http.urlTemplate.replace(/\{\{[^}]*\}\}/g, 'x'), egress);
      if (!check.ok) add('http.urlTemplate', `Refused by the egress policy: ${check.refusal.reason}`, 'url_refused');
      else {
        for (const [param, value] of check.url.searchParams) {
          if (CREDENTIAL_PARAM.test(param) && value !== 'x' && value.length > 0) add('http.urlTemplate', `Query parameter "${param}" carries a credential: use {{secrets.NAME}}`, 'inline_secret');
        }
      }
    }
    if (inlineCredential(http.urlTemplate)) add('http.urlTemplate', 'Looks like it holds a credential: store it in org settings secrets and use {{secrets.NAME}}', 'inline_secret');
    const headerNames = Object.keys(http.headers);
    if (headerNames.length > ACTIONS.maxHeaders) add('http.headers', `At most ${ACTIONS.maxHeaders} headers`);
    for (const [name, value] of Object.entries(http.headers)) {
      const path = `http.headers.${name}`;
      if (!HEADER_NAME.test(name)) add(path, 'Not a valid header name');
      else if (RESERVED_HEADERS.has(name.toLowerCase())) add(path, 'Set by the platform; not configurable');
      if (/[\r\n\0]/.test(value)) add(path, 'A header value cannot contain line breaks');
      checkPlaceholders(path, value, true);
      const referencesSecret = scanTemplate(value).placeholders.some((p) => p.kind === 'secrets');
      if (CREDENTIAL_HEADER.test(name) && !referencesSecret && value.trim()) {
        add(path, `"${name}" carries a credential: reference it as {{secrets.NAME}} (org settings), never inline`, 'inline_secret');
      } else if (inlineCredential(value)) add(path, 'Looks like it holds a credential: use {{secrets.NAME}}', 'inline_secret');
    }
    if (http.bodyTemplate !== null && http.bodyTemplate !== undefined) {
      if (http.method === 'GET') add('http.bodyTemplate', 'A GET request has no body');
      templateBytes += JSON.stringify(http.bodyTemplate).length;
      for (const text of stringsIn(http.bodyTemplate)) {
        checkPlaceholders('http.bodyTemplate', text, true);
        if (inlineCredential(text)) add('http.bodyTemplate', 'Looks like it holds a credential: use {{secrets.NAME}}', 'inline_secret');
      }
    }
    if (templateBytes > ACTIONS.maxTemplateBytes) add('http', `Templates larger than ${ACTIONS.maxTemplateBytes} bytes in all`);
  }

  if (def.type === 'email') {
    const email = def.email;
    if (!email) return [...problems, { path: 'email', message: 'An email action needs its email config', code: 'invalid' }];
    const to = scanTemplate(email.to);
    if (to.placeholders.length > 0) {
      if (!/^\{\{\s*args\.[A-Za-z0-9_-]+\s*\}\}$/.test(email.to.trim())) add('email.to', 'Either a fixed address or exactly one {{args.NAME}}', 'invalid_template');
      checkPlaceholders('email.to', email.to, false);
    } else if (!normalizeEmail(email.to).ok) add('email.to', 'Not an email address');
    if (email.subject.length > MAIL.maxSubjectChars) add('email.subject', `At most ${MAIL.maxSubjectChars} characters`);
    if (email.bodyTemplate.length > MAIL.maxTextChars) add('email.bodyTemplate', `At most ${MAIL.maxTextChars} characters`);
    checkPlaceholders('email.subject', email.subject, false);
    checkPlaceholders('email.bodyTemplate', email.bodyTemplate, false);
  }
  return problems;
}

function placeholderProblem(p: Placeholder, path: string, declared: Set<string>, allowSecrets: boolean, add: (path: string, message: string, code?: string) => void) {
  if (p.kind === 'secrets') {
    if (!allowSecrets) add(path, 'Secrets cannot be used here (a mail is readable by its recipient)', 'invalid_template');
    else if (p.path.length !== 1 || !SECRET_NAME_PATTERN.test(p.path[0]!)) add(path, `{{secrets.${p.path.join('.')}}} does not name an org settings secret`, 'invalid_template');
    return;
  }
  if (!declared.has(p.path[0]!)) add(path, `{{args.${p.path.join('.')}}} is not a property of the parameters schema`, 'unknown_argument');
}

/** The secret names an http action's templates reference (resolved only when it runs). */
export function referencedSecrets(http: HttpConfig): string[] {
  const texts = [http.urlTemplate, ...Object.values(http.headers), ...stringsIn(http.bodyTemplate)];
  const names = new Set<string>();
  for (const text of texts) for (const p of scanTemplate(text).placeholders) if (p.kind === 'secrets') names.add(p.path[0]!);
  return [...names];
}
