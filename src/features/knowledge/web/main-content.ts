/**
 * The readable content of a web page, with HTMLRewriter (streaming: the page is never held as
 * a DOM). Element handlers keep a little state (inside something to drop? inside <main>? inside
 * <pre>?) and a document text handler routes each text node, collected until lastInTextNode and
 * entity-decoded, to the writers that state allows.
 *
 * Dropped: scripts, styles, embedded media and forms' controls; nav, aside, footer, page-level
 * header; dialogs and hidden elements; anything whose role is navigation-like or whose class/id
 * names a boilerplate part (nav, menu, sidebar, footer, cookie banner, share bar, ...). A class
 * that also names content ("sidebar-content", "no-sidebar layout") is kept: losing content is
 * worse than keeping a menu.
 *
 * Chosen: the text inside <main>/<article>/[role=main] when there is any; else the whole page
 * without <form>s; else the whole page (sites that wrap everything in one <form>).
 */
import { WEB_PAGE_MAX_TEXT_CHARS } from '../../../limits';
import { decodeHtmlEntities } from './html-entities';
import { MarkdownWriter } from './markdown-writer';
import { isSameOrigin, normalizeUrl } from './urls';

export interface WebPage {
  title: string;
  /** Markdown-ish: "#" headings, "-" list items, blank lines between paragraphs, ``` for <pre>. */
  text: string;
  /** Same-origin http(s) links, absolute and normalized, in page order; none under nofollow. */
  links: string[];
  canonical?: string;
  description?: string;
  lang?: string;
  robots: { noindex: boolean; nofollow: boolean };
  /** The text hit WEB_PAGE_MAX_TEXT_CHARS and was cut. */
  truncated: boolean;
}

const VOID_ELEMENTS = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
const DROPPED_ELEMENTS = new Set([
  'script', 'style', 'noscript', 'template', 'svg', 'math', 'iframe', 'object', 'canvas', 'video', 'audio',
  'nav', 'aside', 'footer', 'button', 'select', 'textarea', 'dialog', 'menu',
]);
const DROPPED_ROLES = new Set(['navigation', 'contentinfo', 'complementary', 'search', 'menu', 'menubar', 'toolbar', 'dialog', 'alertdialog', 'banner']);
const BOILERPLATE_WORDS = new Set([
  'nav', 'navbar', 'navigation', 'menu', 'menubar', 'megamenu', 'sidebar', 'sidenav', 'footer', 'breadcrumb',
  'breadcrumbs', 'cookie', 'cookies', 'cookiebanner', 'cookieconsent', 'consent', 'gdpr', 'onetrust', 'advert',
  'advertisement', 'ads', 'sponsored', 'social', 'share', 'sharing', 'newsletter', 'subscribe', 'popup', 'modal',
  'skiplink', 'toc', 'pagination', 'pager', 'masthead', 'topbar', 'comments',
]);
/** Words that mark a wrapper of real content even when a boilerplate word is next to them. */
const CONTENT_WORDS = new Set(['content', 'main', 'article', 'post', 'entry', 'body', 'page', 'layout', 'wrapper', 'container', 'has', 'no', 'with', 'without']);
const PARAGRAPH_ELEMENTS = new Set([
  'p', 'div', 'section', 'article', 'main', 'header', 'blockquote', 'figure', 'table', 'dl', 'address',
  'details', 'hr', 'form', 'fieldset', 'center',
]);
const LINE_ELEMENTS = new Set(['li', 'tr', 'dt', 'dd', 'summary', 'figcaption', 'caption', 'option']);
const HEADINGS: Record<string, number> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 };

/** "siteNav main-menu_bar" → ["site", "nav", "main", "menu", "bar"] */
function nameWords(value: string): string[] {
  return value
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

function namesBoilerplate(element: Element): boolean {
  const words = nameWords(`${element.getAttribute('class') ?? ''} ${element.getAttribute('id') ?? ''}`);
  return words.some((word) => BOILERPLATE_WORDS.has(word)) && !words.some((word) => CONTENT_WORDS.has(word));
}

function isHidden(element: Element): boolean {
  if (element.hasAttribute('hidden') || element.getAttribute('aria-hidden') === 'true') return true;
  return /display\s*:\s*none|visibility\s*:\s*hidden/i.test(element.getAttribute('style') ?? '');
}

const roleWords = (element: Element) => (element.getAttribute('role') ?? '').toLowerCase().split(/\s+/);

class PageState {
  dropDepth = 0;
  formDepth = 0;
  mainDepth = 0;
  preDepth = 0;
  listDepth = 0;
  titleDepth = 0;
  firstHeadingDepth = 0;
  title = '';
  firstHeading = '';
  ogTitle?: string;
  description?: string;
  lang?: string;
  canonical?: string;
  noindex = false;
  nofollow = false;
  base: string;
  readonly links = new Set<string>();
  readonly main = new MarkdownWriter(WEB_PAGE_MAX_TEXT_CHARS);
  readonly page = new MarkdownWriter(WEB_PAGE_MAX_TEXT_CHARS);
  readonly pageWithForms = new MarkdownWriter(WEB_PAGE_MAX_TEXT_CHARS);

  constructor(readonly pageUrl: string) {
    this.base = pageUrl;
  }

  /** The writers the current position's text belongs to. */
  writers(): MarkdownWriter[] {
    if (this.dropDepth > 0) return [];
    const writers = [this.pageWithForms];
    if (this.formDepth === 0) writers.push(this.page);
    if (this.mainDepth > 0) writers.push(this.main);
    return writers;
  }
}

function readHead(state: PageState, element: Element, tag: string) {
  if (tag === 'base') {
    const base = normalizeUrl(element.getAttribute('href') ?? '', state.pageUrl);
    if (base) state.base = base;
  } else if (tag === 'link' && /(^|\s)canonical(\s|$)/i.test(element.getAttribute('rel') ?? '')) {
    state.canonical = normalizeUrl(element.getAttribute('href') ?? '', state.base) ?? state.canonical;
  } else if (tag === 'meta') {
    const name = (element.getAttribute('name') ?? element.getAttribute('property') ?? '').toLowerCase();
    const content = decodeHtmlEntities(element.getAttribute('content') ?? '').trim();
    if (name === 'robots') {
      state.noindex ||= /\b(noindex|none)\b/i.test(content);
      state.nofollow ||= /\b(nofollow|none)\b/i.test(content);
    } else if (name === 'description' && content) state.description ??= content;
    else if (name === 'og:title' && content) state.ogTitle ??= content;
  }
}

function collectLink(state: PageState, element: Element) {
  const href = element.getAttribute('href');
  if (!href || /(^|\s)nofollow(\s|$)/i.test(element.getAttribute('rel') ?? '')) return;
  const url = normalizeUrl(decodeHtmlEntities(href), state.base);
  if (url && isSameOrigin(url, state.pageUrl)) state.links.add(url);
}

/**
 * Runs `undo` at the element's end tag, or returns false when it has none: void elements and
 * self-closing foreign ones (`<svg/>`), for which HTMLRewriter's onEndTag throws. The callback
 * must not touch the element: it is no longer valid by then.
 */
function onEnd(element: Element, tag: string, undo: () => void): boolean {
  if (VOID_ELEMENTS.has(tag)) return false;
  try {
    element.onEndTag(undo);
    return true;
  } catch {
    return false;
  }
}

function shouldDrop(state: PageState, element: Element, tag: string): boolean {
  if (DROPPED_ELEMENTS.has(tag)) return true;
  if (tag === 'header' && state.mainDepth === 0) return true;
  if (tag === 'html' || tag === 'body' || tag === 'main' || tag === 'article') return false;
  if (isHidden(element)) return true;
  const roles = roleWords(element);
  if (roles.some((role) => DROPPED_ROLES.has(role)) && !(roles.includes('banner') && state.mainDepth > 0)) return true;
  return namesBoilerplate(element);
}

function startElement(state: PageState, element: Element) {
  const tag = element.tagName.toLowerCase();
  if (tag === 'a') collectLink(state, element);
  if (state.dropDepth > 0) return; // nothing inside a dropped element matters (and <svg/> children may never close)
  if (tag === 'html') state.lang = element.getAttribute('lang') ?? undefined;
  if (tag === 'base' || tag === 'link' || tag === 'meta') return readHead(state, element, tag);
  if (tag === 'title') {
    if (onEnd(element, tag, () => void state.titleDepth--)) state.titleDepth++;
    return;
  }
  if (shouldDrop(state, element, tag)) {
    if (onEnd(element, tag, () => void state.dropDepth--)) state.dropDepth++;
    return;
  }
  const writers = state.writers();
  const undo: (() => void)[] = [];
  const isMain = tag === 'main' || tag === 'article' || roleWords(element).includes('main');
  if (isMain) {
    state.mainDepth++;
    undo.push(() => void state.mainDepth--);
  }
  if (tag === 'form') {
    state.formDepth++;
    undo.push(() => void state.formDepth--);
  }
  const level = HEADINGS[tag];
  if (level) {
    for (const writer of writers) {
      writer.breakLine(2);
      writer.setPrefix(`${'#'.repeat(level)} `);
    }
    if (level === 1 && !state.firstHeading) {
      state.firstHeadingDepth++;
      undo.push(() => void state.firstHeadingDepth--);
    }
    undo.push(() => state.writers().forEach((writer) => (writer.clearPrefix(), writer.breakLine(2))));
  } else if (tag === 'ul' || tag === 'ol') {
    state.listDepth++;
    for (const writer of writers) writer.breakLine(state.listDepth === 1 ? 2 : 1);
    undo.push(() => {
      state.listDepth--;
      state.writers().forEach((writer) => writer.breakLine(state.listDepth === 0 ? 2 : 1));
    });
  } else if (tag === 'li') {
    for (const writer of writers) {
      writer.breakLine(1);
      writer.setPrefix(`${'  '.repeat(Math.max(0, state.listDepth - 1))}- `);
    }
    undo.push(() => state.writers().forEach((writer) => writer.clearPrefix()));
  } else if (tag === 'pre') {
    state.preDepth++;
    for (const writer of writers) {
      writer.breakLine(2);
      writer.preformatted('```\n');
    }
    undo.push(() => {
      state.preDepth--;
      state.writers().forEach((writer) => (writer.preformatted('\n```'), writer.breakLine(2)));
    });
  } else if (tag === 'br') {
    for (const writer of writers) state.preDepth ? writer.preformatted('\n') : writer.breakLine(1);
  } else if (tag === 'td' || tag === 'th') {
    for (const writer of writers) writer.separator(' | ');
  } else if (PARAGRAPH_ELEMENTS.has(tag) || LINE_ELEMENTS.has(tag)) {
    const breaks = PARAGRAPH_ELEMENTS.has(tag) ? 2 : 1;
    for (const writer of writers) writer.breakLine(breaks);
    undo.push(() => state.writers().forEach((writer) => writer.breakLine(breaks)));
  }
  const undoAll = () => undo.reverse().forEach((step) => step());
  if (undo.length && !onEnd(element, tag, undoAll)) undoAll();
}

function addText(state: PageState, raw: string) {
  if (state.dropDepth > 0) return;
  const text = decodeHtmlEntities(raw);
  if (state.titleDepth > 0) {
    state.title += text;
    return;
  }
  if (state.firstHeadingDepth > 0) state.firstHeading += text;
  for (const writer of state.writers()) {
    if (state.preDepth > 0) writer.preformatted(text);
    else writer.inline(text);
  }
}

const collapse = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * Reads the response body (it must be consumed for HTMLRewriter's handlers to run). `baseUrl`
 * is the page's final URL: links resolve against it (or a <base href>), and only links on its
 * origin are returned.
 */
export async function extractMainContent(response: Response, baseUrl: string): Promise<WebPage> {
  const state = new PageState(normalizeUrl(baseUrl) ?? baseUrl);
  let pendingText = '';
  const rewriter = new HTMLRewriter()
    .on('*', { element: (element) => startElement(state, element) })
    .onDocument({
      text(chunk) {
        pendingText += chunk.text;
        if (chunk.lastInTextNode) {
          addText(state, pendingText);
          pendingText = '';
        }
      },
    });
  await rewriter.transform(response).arrayBuffer();
  if (pendingText) addText(state, pendingText);

  const chosen = !state.main.isEmpty ? state.main : !state.page.isEmpty ? state.page : state.pageWithForms;
  return {
    title: collapse(state.title) || collapse(state.ogTitle ?? '') || collapse(state.firstHeading),
    text: chosen.toString(),
    links: state.nofollow ? [] : [...state.links],
    canonical: state.canonical,
    description: state.description,
    lang: state.lang,
    robots: { noindex: state.noindex, nofollow: state.nofollow },
    truncated: chosen.truncated,
  };
}
