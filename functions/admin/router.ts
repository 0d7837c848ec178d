/**
 * The admin API's routes: `METHOD /path/{param}` patterns matched against a request. Small on
 * purpose: ten routes, no middleware.
 */
import type { Request } from '@google-cloud/functions-framework';

export type RouteResult = { status: number; body: unknown };
export type RouteHandler = (req: Request, params: Record<string, string>) => Promise<RouteResult>;

export interface Route {
  /** `METHOD /path`, as docs/openapi.yaml names it. */
  path: string;
  method: 'GET' | 'POST';
  pattern: RegExp;
  keys: string[];
  handle: RouteHandler;
}

export function route(method: Route['method'], path: string, handle: RouteHandler): Route {
  const keys: string[] = [];
  const pattern = new RegExp('^' + path.replace(/\{(\w+)\}/g, (_, key: string) => (keys.push(key), '([^/]+)')) + '/?$');
  return { path: `${method} ${path}`, method, pattern, keys, handle };
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'wrong_method'; allow: string[] }
  | { kind: 'not_found' }
  /** A path parameter with a malformed percent-escape (`%E0%A4%A`): the caller's mistake, a 400. */
  | { kind: 'bad_escape'; key: string };

/** `decodeURIComponent`, or undefined for a malformed escape (which it throws on). */
function decoded(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  const matching = routes.filter((r) => r.pattern.test(path));
  if (matching.length === 0) return { kind: 'not_found' };
  const found = matching.find((m) => m.method === method);
  if (!found) return { kind: 'wrong_method', allow: [...new Set(matching.map((m) => m.method))] };
  const match = found.pattern.exec(path)!;
  const params: Record<string, string> = {};
  for (const [i, key] of found.keys.entries()) {
    const value = decoded(match[i + 1]!);
    if (value === undefined) return { kind: 'bad_escape', key };
    params[key] = value;
  }
  return { kind: 'found', route: found, params };
}
