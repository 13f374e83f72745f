/**
 * The markdown tree (markdown.ts) as DOM nodes, built with createElement and text nodes only:
 * no innerHTML, no attribute but a sanitized href, so no text can become markup or script.
 */
import type { Block, Inline } from './markdown';

/** How a citation marker [n] is shown: a link to its source, or plain text when it has none. */
export type CiteRenderer = (n: number) => Node;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A link that opens `href` (already sanitized) in a new tab, sending no referrer and no opener. */
export function link(href: string, text?: string): HTMLAnchorElement {
  const a = el('a', undefined, text);
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  return a;
}

export function renderBlocks(blocks: Block[], cite: CiteRenderer): DocumentFragment {
  const out = document.createDocumentFragment();
  for (const block of blocks) {
    switch (block.t) {
      case 'p':
        out.append(inlines(el('p'), block.c, cite));
        break;
      case 'h':
        out.append(inlines(el('p', 'kc-h'), block.c, cite));
        break;
      case 'pre': {
        const pre = el('pre');
        pre.append(el('code', undefined, block.v));
        out.append(pre);
        break;
      }
      case 'ul':
      case 'ol': {
        const list = block.t === 'ol' ? el('ol') : el('ul');
        if (block.t === 'ol' && block.start !== 1) (list as HTMLOListElement).start = block.start;
        for (const item of block.items) list.append(inlines(el('li'), item, cite));
        out.append(list);
        break;
      }
    }
  }
  return out;
}

function inlines<T extends HTMLElement>(parent: T, nodes: Inline[], cite: CiteRenderer): T {
  for (const node of nodes) {
    switch (node.t) {
      case 'text':
        parent.append(document.createTextNode(node.v));
        break;
      case 'br':
        parent.append(el('br'));
        break;
      case 'code':
        parent.append(el('code', undefined, node.v));
        break;
      case 'strong':
      case 'em':
        parent.append(inlines(el(node.t), node.c, cite));
        break;
      case 'link': {
        parent.append(inlines(link(node.href), node.c, cite));
        break;
      }
      case 'cite':
        parent.append(cite(node.n));
        break;
    }
  }
  return parent;
}
