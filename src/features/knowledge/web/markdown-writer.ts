/**
 * Builds markdown-ish text from a stream of HTML events: inline text is whitespace-collapsed
 * as a browser would render it, blocks are separated by line breaks, and a pending prefix
 * ("## ", "- ") is written before the first text of a heading or list item. Breaks and spaces
 * are written lazily, so empty elements leave no blank lines behind.
 */
const HTML_WHITESPACE = /[ \t\n\f\r]+/g;

export class MarkdownWriter {
  private readonly parts: string[] = [];
  private length = 0;
  private atLineStart = true;
  private pendingBreaks = 0;
  private pendingSpace = false;
  private prefix = '';
  truncated = false;

  constructor(private readonly maxChars: number) {}

  get isEmpty(): boolean {
    return this.length === 0;
  }

  /** Ask for `count` line breaks (1: new line, 2: new paragraph) before the next text. */
  breakLine(count: 1 | 2): void {
    if (this.length > 0) this.pendingBreaks = Math.max(this.pendingBreaks, count);
    this.pendingSpace = false;
  }

  setPrefix(prefix: string): void {
    this.prefix = prefix;
  }

  clearPrefix(): void {
    this.prefix = '';
  }

  /** Text that flows: runs of HTML whitespace become one space; no-break spaces become spaces. */
  inline(text: string): void {
    const collapsed = text.replace(HTML_WHITESPACE, ' ').replace(/\u00a0/g, ' ');
    const core = collapsed.trim();
    if (!core) {
      if (collapsed && !this.atLineStart) this.pendingSpace = true;
      return;
    }
    if (collapsed.startsWith(' ') && !this.atLineStart) this.pendingSpace = true;
    this.write(core);
    this.pendingSpace = collapsed.endsWith(' ');
  }

  /** Text whose whitespace is meaningful (inside <pre>). */
  preformatted(text: string): void {
    if (text) this.write(text);
  }

  /** A separator between inline items (table cells), written only between real text. */
  separator(text: string): void {
    if (!this.atLineStart && this.pendingBreaks === 0) {
      this.pendingSpace = false;
      this.append(text);
    }
  }

  private write(text: string): void {
    if (this.pendingBreaks) {
      this.append('\n'.repeat(this.pendingBreaks));
      this.pendingBreaks = 0;
      this.atLineStart = true;
      this.pendingSpace = false;
    }
    if (this.atLineStart && this.prefix) {
      this.append(this.prefix);
      this.prefix = '';
    } else if (this.pendingSpace && !this.atLineStart) {
      this.append(' ');
    }
    this.pendingSpace = false;
    this.append(text);
    this.atLineStart = text.endsWith('\n');
  }

  private append(text: string): void {
    if (this.truncated) return;
    if (this.length + text.length > this.maxChars) {
      text = text.slice(0, this.maxChars - this.length);
      this.truncated = true;
    }
    this.parts.push(text);
    this.length += text.length;
    this.atLineStart = false;
  }

  toString(): string {
    return this.parts
      .join('')
      .replace(/[ \t]+$/gm, '')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }
}
