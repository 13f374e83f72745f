/**
 * JSON flattened to "path: value" lines (`plans[0].price.monthly: 29`), so each fact can be
 * found by its key names. Arrays of scalars stay on one line; the top level's entries are
 * separated by blank lines so each record is a paragraph for the chunker. Below
 * EXTRACTION_JSON_MAX_DEPTH a subtree is written inline as (cut) JSON.
 */
import { EXTRACTION_INLINE_JSON_MAX_CHARS, EXTRACTION_JSON_MAX_DEPTH } from '../../../limits';
import { decodeUtf8Text, normalizeExtractedText } from './text';
import type { Extraction } from './types';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (IDENTIFIER.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

const scalar = (value: Exclude<Json, Json[] | { [key: string]: Json }>) =>
  typeof value === 'string' ? value.replace(/\s*\r?\n\s*/g, ' ') : String(value);

const isScalar = (value: Json): value is Exclude<Json, Json[] | { [key: string]: Json }> =>
  value === null || typeof value !== 'object';

function line(path: string, value: string): string {
  return path ? `${path}: ${value}` : value;
}

function flatten(value: Json, path: string, depth: number, out: string[]): void {
  if (isScalar(value)) {
    out.push(line(path, scalar(value)));
    return;
  }
  if (depth >= EXTRACTION_JSON_MAX_DEPTH) {
    const inline = JSON.stringify(value);
    out.push(line(path, inline.length > EXTRACTION_INLINE_JSON_MAX_CHARS ? `${inline.slice(0, EXTRACTION_INLINE_JSON_MAX_CHARS)}…` : inline));
    return;
  }
  const entries: [string | number, Json][] = Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
  if (entries.length === 0) {
    out.push(line(path, Array.isArray(value) ? '[]' : '{}'));
    return;
  }
  if (Array.isArray(value) && value.every(isScalar)) {
    out.push(line(path, value.map(scalar).join(', ')));
    return;
  }
  const separateEntries = depth === 0;
  for (const [key, child] of entries) {
    if (separateEntries && out.length && out[out.length - 1] !== '') out.push('');
    flatten(child, childPath(path, key), depth + 1, out);
  }
}

export function renderJson(value: unknown): string {
  const out: string[] = [];
  flatten(value as Json, '', 0, out);
  return out.join('\n');
}

export function extractJson(bytes: Uint8Array): Extraction {
  const decoded = decodeUtf8Text(bytes);
  if (decoded === null) return { ok: false, reason: 'corrupt', detail: 'The JSON file is not UTF-8 text.' };
  let value: unknown;
  try {
    value = JSON.parse(decoded.replace(/^\ufeff/, ''));
  } catch (error) {
    return { ok: false, reason: 'corrupt', detail: `The file is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const text = normalizeExtractedText(renderJson(value));
  if (!text) return { ok: false, reason: 'no_text', detail: 'The JSON file holds no values.' };
  return { ok: true, text };
}
