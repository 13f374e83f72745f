/**
 * Turns a valid JSON value into an invalid or hostile one: a node of the wrong type, a
 * missing or an extra property, a string past its limit (up to ~1 MB), unicode that
 * breaks naive code (astral, RTL, combining), NUL bytes, or a body that is not an object.
 * Each mutation says what it did, so a failing request explains itself.
 */
import fc from 'fast-check';
import { TRICKY_CHARS } from './schema-arbitrary';

export interface Mutated {
  value: unknown;
  note: string;
}

type Path = (string | number)[];

function nodes(value: unknown, path: Path = [], out: { path: Path; value: unknown }[] = []) {
  out.push({ path, value });
  if (Array.isArray(value)) value.forEach((v, i) => nodes(v, [...path, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) nodes(v, [...path, k], out);
  return out;
}

function setAt(root: unknown, path: Path, replace: (old: unknown) => unknown): unknown {
  if (path.length === 0) return replace(root);
  const [head, ...rest] = path;
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) };
  copy[head!] = setAt(copy[head!], rest, replace);
  return copy;
}

/** ~1 MB of one repeated unit (built by repetition: a fast-check string that big is slow). */
const HUGE_UNITS = 1_000_000;

/** Strings that are wrong in size or content rather than in type. */
export const hostileString: fc.Arbitrary<{ value: string; note: string }> = fc.oneof(
  fc.constantFrom(...TRICKY_CHARS).map((c) => ({ value: c.repeat(50), note: `tricky ${JSON.stringify(c)}×50` })),
  fc.nat({ max: 3 }).map((n) => ({ value: `a\u0000b${'\u0000'.repeat(n)}`, note: 'NUL bytes' })),
  fc.constantFrom(201, 257, 2001, 20_001, 100_000).map((n) => ({ value: 'x'.repeat(n), note: `${n} chars` })),
  fc.constantFrom('x', '\u{1D518}', 'e\u0301', '\u0000').map((unit) => ({ value: unit.repeat(Math.ceil(HUGE_UNITS / unit.length)), note: `~1 MB of ${JSON.stringify(unit)}` })),
  fc.constantFrom('', ' ', '\t\n', '..', '../../etc/passwd', '%00', '${7*7}', "' OR 1=1 --", '<script>alert(1)</script>', 'null', 'undefined', '__proto__').map((value) => ({ value, note: `odd string ${JSON.stringify(value)}` })),
  // Full-text query syntax (SQLite FTS5), for anything that reaches a MATCH.
  fc.constantFrom('"unterminated', 'a NEAR/2 b', 'NEAR(a b, -1)', 'title:x', '*', '^x', 'AND', 'x OR', 'NOT NOT', '((', 'a"b', '-x', '{a b}:c').map((value) => ({ value, note: `full-text syntax ${JSON.stringify(value)}` })),
  fc.string({ unit: 'binary', maxLength: 30 }).map((value) => ({ value, note: 'random code points' })),
);

/** Values of every JSON type, including numbers no schema admits. */
const wrongTyped: fc.Arbitrary<{ value: unknown; note: string }> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 2 ** 53 + 2, -(2 ** 63), 1e308, '', '1', [], {}, [null], { a: 1 }).map((value) => ({ value, note: `value ${JSON.stringify(value)}` })),
  fc.jsonValue({ maxDepth: 3 }).map((value) => ({ value, note: 'random JSON' })),
  fc.constantFrom(50, 2000).map((depth) => ({ value: JSON.parse('['.repeat(depth) + ']'.repeat(depth)), note: `arrays nested ${depth} deep` })),
);

const extraKeys = fc.constantFrom('extra', '__proto__', 'constructor', 'prototype', 'orgId', 'id', '', '\u0000', 'a'.repeat(300));

export function mutate(valid: unknown): fc.Arbitrary<Mutated> {
  const all = nodes(valid);
  const objects = all.filter((n) => n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value));
  const withKeys = objects.filter((n) => Object.keys(n.value as object).length > 0);
  const strings = all.filter((n) => typeof n.value === 'string');
  const where = (path: Path) => (path.length ? path.join('.') : '(root)');

  const choices: fc.Arbitrary<Mutated>[] = [
    fc.tuple(fc.constantFrom(...all), wrongTyped).map(([node, bad]) => ({ value: setAt(valid, node.path, () => bad.value), note: `${where(node.path)} := ${bad.note}` })),
    fc.tuple(fc.constantFrom(...all), hostileString).map(([node, bad]) => ({ value: setAt(valid, node.path, () => bad.value), note: `${where(node.path)} := ${bad.note}` })),
  ];
  if (strings.length) {
    choices.push(
      fc.tuple(fc.constantFrom(...strings), hostileString).map(([node, bad]) => ({ value: setAt(valid, node.path, () => bad.value), note: `${where(node.path)} := ${bad.note}` })),
    );
  }
  if (withKeys.length) {
    choices.push(
      fc.constantFrom(...withKeys).chain((node) =>
        fc.constantFrom(...Object.keys(node.value as object)).map((key) => ({
          value: setAt(valid, node.path, (old) => {
            const { [key]: _dropped, ...rest } = old as Record<string, unknown>;
            return rest;
          }),
          note: `${where([...node.path, key])} removed`,
        })),
      ),
    );
  }
  if (objects.length) {
    choices.push(
      fc.tuple(fc.constantFrom(...objects), extraKeys, wrongTyped).map(([node, key, extra]) => ({
        // defineProperty so that "__proto__" becomes an own key that JSON.stringify sends.
        value: setAt(valid, node.path, (old) => Object.defineProperty({ ...(old as object) }, key, { value: extra.value, enumerable: true })),
        note: `${where([...node.path, key])} added: ${extra.note}`,
      })),
    );
  }
  return fc.oneof(...choices);
}
