/**
 * `{{args.x}}` and `{{secrets.NAME}}` placeholders in action templates. Templates are data, never
 * code: a placeholder is looked up and substituted, nothing is evaluated. Where the value lands
 * decides its encoding: URL-encoded in a URL, JSON in a JSON body, plain text in a header or a
 * mail (CR/LF refused in headers, so an argument cannot add one).
 */

/** One placeholder: `{{args.order.id}}` (a path into the arguments) or `{{secrets.crm_key}}`. */
export interface Placeholder {
  kind: 'args' | 'secrets';
  path: string[];
}

const PLACEHOLDER = /\{\{\s*(args|secrets)\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){0,4})\s*\}\}/g;
const ANY_BRACES = /\{\{|\}\}/;

export interface TemplateScan {
  placeholders: Placeholder[];
  /** Set when the text holds `{{`/`}}` that is not a well-formed placeholder. */
  malformed: boolean;
}

export function scanTemplate(text: string): TemplateScan {
  const placeholders: Placeholder[] = [];
  const rest = text.replace(PLACEHOLDER, (_m, kind: 'args' | 'secrets', path: string) => {
    placeholders.push({ kind, path: path.split('.') });
    return '';
  });
  return { placeholders, malformed: ANY_BRACES.test(rest) };
}

/** Every string inside a JSON value (keys are not templated). */
export function stringsIn(value: unknown, depth = 0): string[] {
  if (depth > 32) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap((v) => stringsIn(v, depth + 1));
  if (value && typeof value === 'object') return Object.values(value).flatMap((v) => stringsIn(v, depth + 1));
  return [];
}

export interface TemplateValues {
  args: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** A placeholder's value: an argument path (undefined when absent) or a resolved secret. */
function lookup(p: Placeholder, values: TemplateValues): unknown {
  if (p.kind === 'secrets') return values.secrets[p.path[0]!];
  let current: unknown = values.args;
  for (const key of p.path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

const asText = (value: unknown) => (value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value));

/** Substitutes every placeholder, each value passed through `encode`. */
export function renderText(template: string, values: TemplateValues, encode: (text: string) => string = (t) => t): string {
  return template.replace(PLACEHOLDER, (_m, kind: 'args' | 'secrets', path: string) => encode(asText(lookup({ kind, path: path.split('.') }, values))));
}

/** A URL: values are percent-encoded, so an argument cannot add a path segment, a query or a fragment. */
export const renderUrl = (template: string, values: TemplateValues) => renderText(template, values, encodeURIComponent);

export class HeaderInjectionError extends Error {
  override readonly name = 'HeaderInjectionError';
}

/** A header value: a value with a line break would smuggle another header, so it is refused. */
export function renderHeader(template: string, values: TemplateValues): string {
  const text = renderText(template, values);
  if (/[\r\n\0]/.test(text)) throw new HeaderInjectionError('a header value may not contain line breaks');
  return text;
}

/**
 * A JSON body template: a string that is exactly one placeholder becomes the value itself (a
 * number stays a number, an object an object, a missing argument null); placeholders inside a
 * longer string are substituted as text. The result is serialized with JSON.stringify, so no
 * value can break out of its place in the document.
 */
export function renderJson(template: unknown, values: TemplateValues, depth = 0): unknown {
  if (depth > 32) return null;
  if (typeof template === 'string') {
    const whole = new RegExp(`^${PLACEHOLDER.source}$`).exec(template);
    if (whole) {
      const value = lookup({ kind: whole[1] as 'args' | 'secrets', path: whole[2]!.split('.') }, values);
      return value === undefined ? null : value;
    }
    return renderText(template, values);
  }
  if (Array.isArray(template)) return template.map((v) => renderJson(v, values, depth + 1));
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderJson(v, values, depth + 1)]));
  }
  return template;
}
