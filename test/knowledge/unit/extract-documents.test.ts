import { strToU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { EXTRACTION_LIMITS, extractDocument } from '../../../src/features/knowledge/extract';
import { parseCsv, renderCsv } from '../../../src/features/knowledge/extract/csv';
import { renderDocumentXml } from '../../../src/features/knowledge/extract/docx';
import { renderJson } from '../../../src/features/knowledge/extract/json';
import { EXTRACTION_DOCX_MAX_XML_BYTES, EXTRACTION_JSON_MAX_DEPTH, EXTRACTION_MAX_TEXT_CHARS, EXTRACTION_PDF_MAX_PAGES } from '../../../src/limits';
import { buildDocx, buildDocxBomb, buildPdf, docx } from '../../fixtures/documents';

describe('plain text and markdown', () => {
  it('normalizes line breaks, BOM, control characters and blank-line runs', async () => {
    const bytes = strToU8('\ufeffLine one  \r\nLine\u0007 two\r\r\n\n\n\nEnd\u0000');
    expect(await extractDocument(bytes, 'txt')).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(await extractDocument(strToU8('\ufeffLine one  \r\nLine\u0007 two\r\r\n\n\n\nEnd'), 'txt')).toEqual({ ok: true, text: 'Line one\nLine two\n\nEnd' });
  });

  it('takes a markdown title from the first level-1 heading', async () => {
    expect(await extractDocument(strToU8('Intro\n\n# Getting started #\n\n## Next'), 'md')).toEqual({
      ok: true,
      text: 'Intro\n\n# Getting started #\n\n## Next',
      title: 'Getting started',
    });
  });

  it('refuses decoded text over the character cap instead of cutting it', async () => {
    expect(EXTRACTION_LIMITS.maxTextChars).toBe(EXTRACTION_MAX_TEXT_CHARS);
    const limits = { ...EXTRACTION_LIMITS, maxTextChars: 100 };
    expect(await extractDocument(strToU8('word '.repeat(25)), 'txt', limits)).toMatchObject({ ok: false, reason: 'too_large' });
    expect(await extractDocument(strToU8('word '.repeat(19)), 'txt', limits)).toMatchObject({ ok: true });
  });

  it('reports whitespace-only files as having no text', async () => {
    expect(await extractDocument(strToU8(' \n\t\n'), 'txt')).toMatchObject({ ok: false, reason: 'no_text' });
  });
});

describe('html', () => {
  it('extracts the main content of an uploaded page', async () => {
    const html = '<html><head><title>Saved page</title></head><body><nav>Menu</nav><main><h1>Refunds</h1><p>Within 30&nbsp;days.</p></main></body></html>';
    expect(await extractDocument(strToU8(html), 'html')).toEqual({ ok: true, text: '# Refunds\n\nWithin 30 days.', title: 'Saved page' });
  });
});

describe('pdf', () => {
  it('extracts each page, the title and where each page starts', async () => {
    const bytes = buildPdf([['Billing overview', 'Invoices are sent monthly.'], ['Refunds (partial) take 5 days.']], { title: 'Billing Guide' });
    const result = await extractDocument(bytes, 'pdf');
    expect(result).toMatchObject({ ok: true, title: 'Billing Guide', pages: 2 });
    if (!result.ok) throw new Error('unreachable');
    expect(result.text).toContain('Billing overview');
    expect(result.text).toContain('Invoices are sent monthly.');
    expect(result.pageStarts).toHaveLength(2);
    expect(result.text.slice(result.pageStarts![1])).toBe('Refunds (partial) take 5 days.');
    expect(result.text.slice(0, result.pageStarts![1])).not.toContain('Refunds');
  });

  it('fails clearly for a corrupt, an encrypted and an image-only PDF', async () => {
    const corrupt = strToU8('%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage without xref');
    expect(await extractDocument(corrupt, 'pdf')).toMatchObject({ ok: false, reason: 'corrupt' });
    const truncated = buildPdf([['Some text']]).slice(0, 40);
    expect(await extractDocument(truncated, 'pdf')).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(await extractDocument(buildPdf([['Secret']], { encrypted: true }), 'pdf')).toMatchObject({ ok: false, reason: 'encrypted' });
    expect(await extractDocument(buildPdf([[]]), 'pdf')).toMatchObject({ ok: false, reason: 'no_text' });
  });

  it('refuses a PDF with more pages than the cap', async () => {
    const long = buildPdf(Array.from({ length: EXTRACTION_PDF_MAX_PAGES + 1 }, (_, i) => [`Page ${i + 1}`]));
    const result = await extractDocument(long, 'pdf');
    expect(result).toMatchObject({ ok: false, reason: 'too_large' });
    expect(!result.ok && result.detail).toContain(`at most ${EXTRACTION_PDF_MAX_PAGES}`);
  });

  it('stops reading a PDF once its text passes the character cap', async () => {
    const pages = Array.from({ length: 5 }, (_, i) => [`Page ${i + 1} `.padEnd(100, 'x')]);
    const limits = { ...EXTRACTION_LIMITS, maxTextChars: 250 };
    expect(await extractDocument(buildPdf(pages), 'pdf', limits)).toMatchObject({ ok: false, reason: 'too_large' });
    expect(await extractDocument(buildPdf(pages.slice(0, 2)), 'pdf', limits)).toMatchObject({ ok: true, pages: 2 });
  });
});

describe('docx', () => {
  it('renders headings, paragraphs, lists and tables as markdown-ish text, with the core title', async () => {
    const body = [
      docx.paragraph('Setup guide', 'Title'),
      docx.paragraph('Install', 'Heading1'),
      docx.paragraph('Download the installer & run it.'),
      docx.paragraph('On Linux', 'heading 2'),
      docx.listItem('Open a terminal'),
      docx.listItem('Run the script'),
      docx.table([['OS', 'Command'], ['Linux', 'apt install kyro']]),
      docx.paragraph('Done.'),
    ].join('');
    expect(await extractDocument(buildDocx(body, { title: 'Kyro <Setup>' }), 'docx')).toEqual({
      ok: true,
      title: 'Kyro <Setup>',
      text: '# Setup guide\n\n# Install\n\nDownload the installer & run it.\n\n## On Linux\n\n- Open a terminal\n- Run the script\n\nOS | Command\nLinux | apt install kyro\n\nDone.',
    });
  });

  it('joins runs, keeps tabs and breaks, and leaves out deleted text, field codes and fallbacks', () => {
    const xml =
      '<w:body><w:p><w:pPr><w:outlineLvl w:val="2"/></w:pPr><w:r><w:t>Out</w:t></w:r><w:r><w:t>line</w:t></w:r></w:p>' +
      '<w:p><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t xml:space="preserve">c &amp; d</w:t></w:r>' +
      '<w:del><w:r><w:delText>removed</w:delText></w:r></w:del><w:r><w:instrText> HYPERLINK "x" </w:instrText></w:r></w:p>' +
      '<mc:AlternateContent><mc:Choice><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Choice><mc:Fallback><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Fallback></mc:AlternateContent></w:body>';
    expect(renderDocumentXml(xml)).toBe('### Outline\n\na\tb\nc & d\n\nbox');
  });

  it('keeps a paragraph whole around a text box nested inside it', () => {
    const xml =
      '<w:p><w:r><w:t xml:space="preserve">Before </w:t></w:r><w:r><w:drawing><w:txbxContent>' +
      '<w:p><w:r><w:t>Box</w:t></w:r></w:p></w:txbxContent></w:drawing></w:r><w:r><w:t>after</w:t></w:r></w:p>';
    expect(renderDocumentXml(xml)).toBe('Box\n\nBefore after');
  });

  it('fails clearly for a broken archive or one without a document part', async () => {
    expect(await extractDocument(new Uint8Array([0x50, 0x4b, 3, 4, 9, 9, 9]), 'docx')).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(await extractDocument(buildDocx('', { omitDocumentPart: true }), 'docx')).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(await extractDocument(buildDocx(docx.paragraph('  ')), 'docx')).toMatchObject({ ok: false, reason: 'no_text' });
  });

  it('refuses a document part that declares more than the inflated-XML cap, before inflating it', async () => {
    const bomb = await buildDocxBomb(1024, EXTRACTION_DOCX_MAX_XML_BYTES + 1);
    expect(await extractDocument(bomb, 'docx')).toMatchObject({ ok: false, reason: 'too_large' });
  });

  it('stops a zip bomb whose document part declares a small size but inflates past the cap', async () => {
    const bomb = await buildDocxBomb(EXTRACTION_DOCX_MAX_XML_BYTES * 4, 1024);
    expect(bomb.byteLength).toBeLessThan(1024 * 1024);
    const result = await extractDocument(bomb, 'docx');
    expect(result).toMatchObject({ ok: false, reason: 'too_large' });
    expect(!result.ok && result.detail).toContain('more than it declares');
  });
});

describe('csv', () => {
  it('parses RFC 4180 quoting: delimiters, quotes and line breaks inside fields', () => {
    expect(parseCsv('name,note\r\n"Smith, J.","said ""hi""\nthen left"\r\nLee,\n')).toEqual([
      ['name', 'note'],
      ['Smith, J.', 'said "hi"\nthen left'],
      ['Lee', ''],
    ]);
  });

  it('renders each row as "header: value" lines, one paragraph per row', () => {
    expect(renderCsv('plan;price;notes\nStarter;9;\nPro;29;"Most ""popular"""')).toBe(
      'plan: Starter\nprice: 9\n\nplan: Pro\nprice: 29\nnotes: Most "popular"',
    );
  });

  it('names blank or repeated headers and extra columns', () => {
    expect(renderCsv('a,,a\n1,2,3,4')).toBe('a: 1\ncolumn 2: 2\na (2): 3\ncolumn 4: 4');
  });

  it('extracts a header-only file as its header, and a blank one as no text', async () => {
    expect(await extractDocument(strToU8('\ufeffid,name\n'), 'csv')).toEqual({ ok: true, text: 'id, name' });
    expect(await extractDocument(strToU8('\n\n'), 'csv')).toMatchObject({ ok: false, reason: 'no_text' });
  });
});

describe('json', () => {
  it('flattens to path: value lines with one paragraph per top-level entry', () => {
    const value = { product: 'Kyro', plans: [{ name: 'Starter', price: { monthly: 9 } }], tags: ['a', 'b'], 'odd key': null, empty: {} };
    expect(renderJson(value)).toBe(
      'product: Kyro\n\nplans[0].name: Starter\nplans[0].price.monthly: 9\n\ntags: a, b\n\n["odd key"]: null\n\nempty: {}',
    );
  });

  it('writes subtrees below the depth limit inline', () => {
    let deep: unknown = { leaf: true };
    for (let i = 0; i < EXTRACTION_JSON_MAX_DEPTH + 3; i++) deep = { d: deep };
    const lines = renderJson(deep).split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^d(\.d)+: \{"d":/);
    expect(lines[0]!.split(':')[0]!.split('.')).toHaveLength(EXTRACTION_JSON_MAX_DEPTH);
  });

  it('fails clearly for invalid JSON', async () => {
    expect(await extractDocument(strToU8('{"a": }'), 'json')).toMatchObject({ ok: false, reason: 'corrupt' });
    expect(await extractDocument(strToU8('[1, 2]'), 'json')).toEqual({ ok: true, text: '1, 2' });
  });
});
