import { describe, expect, it } from 'vitest';
import { markdownBlocks, markdownSections } from '../../../src/features/knowledge/chunker/markdown-structure';
import { sentenceSpans } from '../../../src/features/knowledge/chunker/sentences';
import { paragraphSpans, trimSpan } from '../../../src/features/knowledge/chunker/text-spans';

const sentences = (text: string) => sentenceSpans(text, 0, text.length).map(({ start, end }) => text.slice(start, end));

describe('sentence boundaries', () => {
  it('ends sentences at terminators followed by space and a capital', () => {
    expect(sentences('The key rotates. Then it expires! Why? Because.')).toEqual(['The key rotates.', 'Then it expires!', 'Why?', 'Because.']);
  });

  it('does not end at abbreviations, initials, decimals, domains or before lowercase', () => {
    expect(sentences('Dr. Smith met J. Doe at 3.14 p.m. on example.com today. See e.g. the guide. It works.')).toEqual([
      'Dr. Smith met J. Doe at 3.14 p.m. on example.com today.',
      'See e.g. the guide.',
      'It works.',
    ]);
  });

  it('keeps closing quotes and brackets with their sentence', () => {
    expect(sentences('He said "stop." (It did.) Done.')).toEqual(['He said "stop."', '(It did.)', 'Done.']);
  });

  it('starts a sentence at each list item, heading, quote and table row line', () => {
    expect(sentences('Steps:\n- open it\n- close it\n1. first\n| a | b |')).toEqual(['Steps:', '- open it', '- close it', '1. first', '| a | b |']);
  });

  it('keeps hard-wrapped prose lines in one sentence', () => {
    expect(sentences('This sentence was wrapped\nby a PDF extractor. Next one.')).toEqual(['This sentence was wrapped\nby a PDF extractor.', 'Next one.']);
  });

  it('splits CJK text on full-width terminators without spaces', () => {
    expect(sentences('今日は晴れです。明日は雨！本当？')).toEqual(['今日は晴れです。', '明日は雨！', '本当？']);
  });
});

describe('text spans', () => {
  it('trims and drops blank paragraphs', () => {
    const text = '  one\n\n \n two\r\n\r\nthree  ';
    expect(paragraphSpans(text, 0, text.length).map(({ start, end }) => text.slice(start, end))).toEqual(['one', 'two', 'three']);
    expect(trimSpan(' \n\t ', 0, 4)).toBeNull();
  });
});

describe('markdown structure', () => {
  const section = (text: string) => markdownSections(text).map(({ start, end, headingPath }) => ({ text: text.slice(start, end), headingPath }));

  it('gives each section the path of its enclosing headings', () => {
    const text = 'Intro text.\n\n# Install\n\nDownload it.\n\n## Linux\n\nUse apt.\n\n## macOS\n\nUse brew.\n\n# Usage\n\nRun it.';
    expect(section(text)).toEqual([
      { text: 'Intro text.', headingPath: [] },
      { text: '# Install\n\nDownload it.', headingPath: ['Install'] },
      { text: '## Linux\n\nUse apt.', headingPath: ['Install', 'Linux'] },
      { text: '## macOS\n\nUse brew.', headingPath: ['Install', 'macOS'] },
      { text: '# Usage\n\nRun it.', headingPath: ['Usage'] },
    ]);
  });

  it('folds a heading with no body into the next section', () => {
    expect(section('# Install\n\n## Linux\n\nUse apt.')).toEqual([{ text: '# Install\n\n## Linux\n\nUse apt.', headingPath: ['Install', 'Linux'] }]);
  });

  it('ignores headings inside code fences and reads setext and CRLF headings', () => {
    const text = 'Guide\n=====\n\n```sh\n# not a heading\n```\n\nSetup\r\n-----\r\nDo it.\r\n\r\n### **Bold** [link](http://x)\r\nText';
    expect(section(text)).toEqual([
      { text: 'Guide\n=====\n\n```sh\n# not a heading\n```', headingPath: ['Guide'] },
      { text: 'Setup\r\n-----\r\nDo it.', headingPath: ['Guide', 'Setup'] },
      { text: '### **Bold** [link](http://x)\r\nText', headingPath: ['Guide', 'Setup', 'Bold link'] },
    ]);
  });

  it('does not take front matter or a list before a rule for setext headings', () => {
    const text = '---\ntitle: Doc\n---\n\n- item\n---\n\nBody.';
    expect(section(text)).toEqual([{ text, headingPath: [] }]);
  });

  it('keeps a fenced code block with blank lines as one block', () => {
    const text = 'Run:\n```js\nconst a = 1;\n\nconst b = 2;\n```\nThen check.\n\nDone.';
    expect(markdownBlocks(text, 0, text.length).map(({ start, end, kind }) => ({ kind, text: text.slice(start, end) }))).toEqual([
      { kind: 'prose', text: 'Run:' },
      { kind: 'code', text: '```js\nconst a = 1;\n\nconst b = 2;\n```' },
      { kind: 'prose', text: 'Then check.' },
      { kind: 'prose', text: 'Done.' },
    ]);
  });
});
