/**
 * .docx text: the paragraphs of word/document.xml in order, rendered so the markdown chunker
 * can use the structure: Heading1..6 / Title styles (or an outline level) become "#" headings,
 * numbered and bulleted paragraphs become "- " items, table rows become "cell | cell" lines.
 * Runs' <w:t> text is joined; <w:tab/> and <w:br/> become a tab and a line break. Deleted
 * revisions, field codes and the fallback copy of alternate content are left out.
 */
import { strFromU8 } from 'fflate';
import { decodeHtmlEntities } from '../web/html-entities';
import { normalizeExtractedText } from './text';
import type { Extraction } from './types';
import { readZipEntries } from './zip-entries';

const DOCUMENT_PART = 'word/document.xml';
const CORE_PROPERTIES_PART = 'docProps/core.xml';
const TAG = /<(\/?)([\w:.-]+)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>|([^<]+)/g;

/** Deleted revisions, field codes, and the fallback copy of content that has a richer choice. */
const SKIPPED_ELEMENTS = new Set(['w:del', 'w:delText', 'w:instrText', 'mc:Fallback']);

const attribute = (attributes: string, name: string) => new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(attributes)?.[1];

function headingLevel(styleId: string): number | undefined {
  if (/^title$/i.test(styleId)) return 1;
  const match = /^heading\s*([1-6])$/i.exec(styleId);
  return match ? Number(match[1]) : undefined;
}

interface Paragraph {
  text: string;
  level?: number;
  listItem: boolean;
}

/** Renders document.xml as markdown-ish text; exported for tests. */
export function renderDocumentXml(xml: string): string {
  const blocks: string[] = [];
  let previousWasListItem = false;
  // Paragraphs nest when a text box sits inside one; the innermost is the one being filled.
  const openParagraphs: Paragraph[] = [];
  let paragraph: Paragraph | undefined;
  let inText = false;
  let skipDepth = 0; // inside w:del, mc:Fallback, w:instrText
  let tableDepth = 0;
  let tableRows: string[] = [];
  let row: string[] = [];
  let cell: string[] = [];

  const pushBlock = (text: string, listItem: boolean) => {
    // Consecutive list items form one list: one line each, no blank line between them.
    if (listItem && previousWasListItem) blocks[blocks.length - 1] += `\n${text}`;
    else blocks.push(text);
    previousWasListItem = listItem;
  };

  const finishParagraph = () => {
    const done = openParagraphs.pop();
    paragraph = openParagraphs[openParagraphs.length - 1];
    const text = done?.text.replace(/[ \t]+\n/g, '\n').trim();
    if (!done || !text) return;
    if (tableDepth > 0) cell.push(text.replace(/\s*\n\s*/g, ' '));
    else if (done.level) pushBlock(`${'#'.repeat(done.level)} ${text.replace(/\s*\n\s*/g, ' ')}`, false);
    else pushBlock(done.listItem ? `- ${text}` : text, done.listItem);
  };

  for (const match of xml.matchAll(TAG)) {
    const [, closing, name, attributes = '', selfClosing, textContent] = match;
    if (textContent !== undefined) {
      if (inText && skipDepth === 0 && paragraph) paragraph.text += decodeHtmlEntities(textContent);
      continue;
    }
    if (SKIPPED_ELEMENTS.has(name!)) {
      if (!selfClosing) skipDepth += closing ? -1 : 1;
      continue;
    }
    if (skipDepth > 0) continue;
    switch (name) {
      case 'w:p':
        if (closing) finishParagraph();
        else if (!selfClosing) {
          paragraph = { text: '', listItem: false };
          openParagraphs.push(paragraph);
        }
        break;
      case 'w:pStyle': {
        const level = headingLevel(attribute(attributes, 'w:val') ?? '');
        if (paragraph && level) paragraph.level = level;
        break;
      }
      case 'w:outlineLvl': {
        const outline = Number(attribute(attributes, 'w:val'));
        if (paragraph && !paragraph.level && outline >= 0 && outline < 6) paragraph.level = outline + 1;
        break;
      }
      case 'w:numPr':
        if (paragraph && !closing) paragraph.listItem = true;
        break;
      case 'w:t':
        inText = !closing && !selfClosing;
        break;
      case 'w:tab':
        if (paragraph && !closing) paragraph.text += '\t';
        break;
      case 'w:br':
      case 'w:cr':
        if (paragraph && !closing) paragraph.text += '\n';
        break;
      case 'w:tbl':
        if (!closing) tableDepth++;
        else if (--tableDepth === 0) {
          if (tableRows.length) pushBlock(tableRows.join('\n'), false);
          tableRows = [];
        }
        break;
      case 'w:tc':
        // Cells of nested tables flatten into the outer cell.
        if (closing && tableDepth === 1) {
          row.push(cell.join(' '));
          cell = [];
        }
        break;
      case 'w:tr':
        if (closing && tableDepth === 1) {
          if (row.some((value) => value.trim())) tableRows.push(row.join(' | '));
          row = [];
        }
        break;
    }
  }
  return blocks.join('\n\n');
}

const WANTED_PARTS = new Set([DOCUMENT_PART, CORE_PROPERTIES_PART]);

export function extractDocx(bytes: Uint8Array, maxXmlBytes: number): Extraction {
  const read = readZipEntries(bytes, WANTED_PARTS, maxXmlBytes);
  if (!read.ok) {
    return read.reason === 'too_large'
      ? { ok: false, reason: 'too_large', detail: `The document inflates beyond the ${maxXmlBytes}-byte limit: ${read.detail}` }
      : { ok: false, reason: 'corrupt', detail: `The .docx archive cannot be read: ${read.detail}` };
  }
  const documentXml = read.entries.get(DOCUMENT_PART);
  if (!documentXml) return { ok: false, reason: 'corrupt', detail: 'The .docx archive has no word/document.xml.' };
  const text = normalizeExtractedText(renderDocumentXml(strFromU8(documentXml)));
  if (!text) return { ok: false, reason: 'no_text', detail: 'The document has no text.' };
  const core = read.entries.get(CORE_PROPERTIES_PART);
  const title = core ? decodeHtmlEntities(/<dc:title>([\s\S]*?)<\/dc:title>/.exec(strFromU8(core))?.[1] ?? '').trim() : '';
  return { ok: true, text, ...(title ? { title } : {}) };
}
