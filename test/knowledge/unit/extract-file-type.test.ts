import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { ACCEPTED_UPLOAD_MIME_TYPES, detectFileType } from '../../../src/features/knowledge/extract';
import { buildDocx, buildPdf, docx } from '../../fixtures/documents';

const DOCX_MIME = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const pdf = buildPdf([['Hello']]);
const word = buildDocx(docx.paragraph('Hello'));

describe('detectFileType', () => {
  it('accepts each allowed type when the bytes agree with the declared MIME type', () => {
    expect(detectFileType(pdf, 'application/pdf', 'a.pdf')).toEqual({ ok: true, type: 'pdf', mime: 'application/pdf' });
    expect(detectFileType(word, DOCX_MIME, 'a.docx')).toEqual({ ok: true, type: 'docx', mime: DOCX_MIME });
    expect(detectFileType(strToU8('plain words'), 'text/plain', 'a.txt')).toMatchObject({ ok: true, type: 'txt' });
    expect(detectFileType(strToU8('# Title'), 'text/markdown', 'a.md')).toMatchObject({ ok: true, type: 'md' });
    expect(detectFileType(strToU8('a,b\n1,2'), 'text/csv', 'a.csv')).toMatchObject({ ok: true, type: 'csv' });
    expect(detectFileType(strToU8('\ufeff {"a": 1}'), 'application/json', 'a.json')).toMatchObject({ ok: true, type: 'json' });
    expect(detectFileType(strToU8('<!-- c --><!DOCTYPE html><html>'), 'Text/HTML; charset=UTF-8', 'a.html')).toEqual({ ok: true, type: 'html', mime: 'text/html' });
  });

  it('exports the allowlist for the 415 problem', () => {
    expect(ACCEPTED_UPLOAD_MIME_TYPES).toEqual(
      expect.arrayContaining(['application/pdf', DOCX_MIME, 'text/plain', 'text/markdown', 'text/csv', 'application/json', 'text/html']),
    );
  });

  it('rejects a MIME type that is not on the allowlist', () => {
    expect(detectFileType(PNG, 'image/png', 'a.png')).toMatchObject({ ok: false, reason: 'unsupported_type' });
    expect(detectFileType(strToU8('x'), 'application/x-msdownload', 'a.txt')).toMatchObject({ ok: false, reason: 'unsupported_type' });
  });

  it('rejects spoofed MIME types by their bytes', () => {
    expect(detectFileType(PNG, 'application/pdf', 'a.pdf')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    expect(detectFileType(pdf, DOCX_MIME, 'a.docx')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    expect(detectFileType(pdf, 'text/plain', 'a.txt')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    expect(detectFileType(word, 'text/csv', 'a.csv')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    expect(detectFileType(strToU8('just words'), 'application/json', 'a.json')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    expect(detectFileType(strToU8('just words'), 'text/html', 'a.html')).toMatchObject({ ok: false, reason: 'content_mismatch' });
  });

  it('requires word/document.xml inside a .docx zip', () => {
    const otherZip = zipSync({ 'xl/workbook.xml': strToU8('<workbook/>') });
    expect(detectFileType(otherZip, DOCX_MIME, 'a.docx')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    const broken = new Uint8Array([0x50, 0x4b, 3, 4, 1, 2, 3]);
    expect(detectFileType(broken, DOCX_MIME, 'a.docx')).toMatchObject({ ok: false, reason: 'content_mismatch' });
  });

  it('requires text types to be UTF-8 without NUL bytes', () => {
    expect(detectFileType(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), 'text/plain', 'latin1.txt')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    expect(detectFileType(new Uint8Array([0x61, 0x00, 0x62]), 'text/plain', 'nul.txt')).toMatchObject({ ok: false, reason: 'content_mismatch' });
  });

  it('uses the file extension only when the MIME type is generic or missing', () => {
    expect(detectFileType(strToU8('# Notes'), 'application/octet-stream', 'notes.md')).toMatchObject({ ok: true, type: 'md', mime: 'text/markdown' });
    expect(detectFileType(pdf, '', 'report.PDF')).toMatchObject({ ok: true, type: 'pdf' });
    expect(detectFileType(PNG, null, 'report.pdf')).toMatchObject({ ok: false, reason: 'content_mismatch' });
    expect(detectFileType(strToU8('MZ'), 'application/octet-stream', 'setup.exe')).toMatchObject({ ok: false, reason: 'unsupported_type' });
    expect(detectFileType(strToU8('x'), 'application/octet-stream')).toMatchObject({ ok: false, reason: 'unsupported_type' });
    expect(detectFileType(strToU8('# Read me'), 'text/plain', 'README.md')).toMatchObject({ ok: true, type: 'md' });
  });

  it('rejects an empty upload', () => {
    expect(detectFileType(new Uint8Array(), 'text/plain', 'a.txt')).toMatchObject({ ok: false, reason: 'empty' });
  });
});
