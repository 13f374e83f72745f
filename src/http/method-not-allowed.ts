import type { Hono } from 'hono';

// Hono answers an unregistered method with 404; this finds the methods the path does take,
// so we can answer 405 with an Allow header instead.
const patternCache = new WeakMap<object, { method: string; regex: RegExp }[]>();

function compile(app: Hono<any>) {
  let patterns = patternCache.get(app);
  if (!patterns) {
    patterns = app.routes
      .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => ({
        method: r.method,
        regex: new RegExp(
          '^' + r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\\?\/:[^/]+/g, '/[^/]+') + '/?$',
        ),
      }));
    patternCache.set(app, patterns);
  }
  return patterns;
}

export function methodNotAllowed(app: Hono<any>, method: string, path: string): string[] {
  const allowed = new Set<string>();
  for (const p of compile(app)) if (p.regex.test(path)) allowed.add(p.method);
  if (allowed.size === 0 || allowed.has(method)) return [];
  if (allowed.has('GET')) allowed.add('HEAD');
  return [...allowed].sort();
}
