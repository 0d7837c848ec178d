/** Which requests the admin refuses as cross-site, before any route runs. */
import fc from 'fast-check';
import { crossSiteRefusal } from '../../../../functions/admin/cross-site';

const ALLOWED = ['http://localhost:8080', 'http://127.0.0.1:8080'];
const OK = { 'x-requested-by': 'omtx', 'content-type': 'application/json' };
const check = (method: string, headers: Record<string, string>) => crossSiteRefusal({ method, headers }, ALLOWED);

it('lets reads through untouched: they change nothing', () => {
  expect(check('GET', { origin: 'https://evil.example' })).toBeUndefined();
  expect(check('HEAD', {})).toBeUndefined();
});

it.each([
  ['no header and no content type (a no-cors fetch with no body)', {}, 403],
  ['a form body', { 'content-type': 'application/x-www-form-urlencoded' }, 403],
  ['text/plain with the header but from elsewhere', { ...OK, origin: 'https://evil.example' }, 403],
  ['the header without a JSON content type', { 'x-requested-by': 'omtx' }, 415],
  ['the header and JSON, but Sec-Fetch-Site cross-site', { ...OK, 'sec-fetch-site': 'cross-site' }, 403],
  ['an opaque origin (a sandboxed frame, a file)', { ...OK, origin: 'null' }, 403],
])('refuses a state-changing request with %s', (_, headers, status) => {
  expect(check('POST', headers)?.status).toBe(status);
});

it('accepts the page (an allowed origin) and scripts (no Origin), JSON with a charset included', () => {
  expect(check('POST', { ...OK, origin: 'http://localhost:8080' })).toBeUndefined();
  expect(check('POST', OK)).toBeUndefined();
  expect(
    check('POST', { ...OK, 'content-type': 'application/json; charset=utf-8', 'x-requested-by': 'OMTX' }),
  ).toBeUndefined();
});

it('refuses every origin not on the list, whatever else the request carries (property)', () => {
  fc.assert(
    fc.property(
      fc.webUrl().map((u) => new URL(u).origin),
      (origin) => {
        fc.pre(!ALLOWED.includes(origin));
        expect(check('POST', { ...OK, origin })?.code).toBe('cross_site_refused');
      },
    ),
  );
});
