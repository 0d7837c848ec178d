/**
 * The operator page's files, served by the admin itself: no CDN, nothing inline. Read once at cold
 * start from the build's output (dist/functions/admin/page: index.html, page.css and the modules
 * compiled from functions/admin/page/*.ts by `npm run build`).
 *
 * Every answer carries a Content-Security-Policy that allows only this origin's own files and no
 * framing: a page that can replay dead letters must not be framed, and a value that slipped into
 * markup could run nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Request, Response } from '@google-cloud/functions-framework';

/** The page's policy: its own files only; no inline script or style attribute; never framed. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** What every API answer carries: JSON that is never rendered, sniffed or framed. */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
});

const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
});

/** The types of the files the page is made of; any other file in its folder is not served. */
const TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
});

/** The page's files in `dir`, by the path they are served at (`/ui/` is index.html). */
export function pageFiles(dir: string): Map<string, { file: string; type: string }> {
  const files = new Map<string, { file: string; type: string }>();
  for (const file of readdirSync(dir).sort()) {
    const type = TYPES[extname(file)];
    if (type) files.set(file === 'index.html' ? '/ui/' : `/ui/${file}`, { file, type });
  }
  return files;
}

export interface PageAssets {
  /** Answers a request for the page (GET / and /ui/…), and says whether it did. */
  serve(req: Request, res: Response): boolean;
}

/** The page's files from `dir`; throws at cold start when it has no index.html (a build without the page). */
export function loadPageAssets(dir: string): PageAssets {
  const found = pageFiles(dir);
  if (!found.has('/ui/')) throw new Error(`no operator page in ${dir}: run npm run build`);
  const files = new Map(
    [...found].map(([path, { file, type }]) => [path, { body: readFileSync(join(dir, file)), type }]),
  );
  return {
    serve(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (req.path === '/' || req.path === '/ui') {
        res.set(PAGE_HEADERS).redirect(302, '/ui/');
        return true;
      }
      if (!req.path.startsWith('/ui/')) return false;
      const asset = files.get(req.path);
      res.set(PAGE_HEADERS);
      if (!asset) res.status(404).type('text/plain').send('not found');
      else res.status(200).type(asset.type).send(asset.body);
      return true;
    },
  };
}
