/**
 * The admin's refusal of cross-site requests. Behind `gcloud run services proxy` the admin answers
 * on the operator's own localhost with the operator's identity added to every request, so any page
 * the operator visits could send it requests. A state-changing request must therefore:
 * - come from an allowed origin (`Origin`, which browsers send with every POST), and
 * - carry `X-Requested-By: omtx` and a JSON content type, even with no body.
 * A cross-site page can set neither without a CORS preflight, which the admin never grants (it
 * answers no OPTIONS route and sends no `Access-Control-Allow-*` header). Reads stay open to
 * anything that reaches the port (a DNS-rebinding page included), so no read returns a secret or a
 * payload (docs/security.md).
 */
import { HttpError } from '../../shared/platform/errors';

export const REQUESTED_BY_HEADER = 'x-requested-by';
export const REQUESTED_BY = 'omtx';

/** What the check reads of a request, headers lower-case. */
export interface RequestFacts {
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

const header = (r: RequestFacts, name: string): string | undefined => {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** Whether a method changes state (only GET, HEAD and OPTIONS do not). */
export const changesState = (method: string): boolean => !['GET', 'HEAD', 'OPTIONS'].includes(method);

/** Why a request is refused as cross-site, or undefined when it may go on. */
export function crossSiteRefusal(r: RequestFacts, allowedOrigins: readonly string[]): HttpError | undefined {
  if (!changesState(r.method)) return undefined;
  const origin = header(r, 'origin');
  if (origin !== undefined && !allowedOrigins.includes(origin))
    return new HttpError('cross_site_refused', 403, `requests from origin ${origin.slice(0, 100)} are refused`, {
      log: { reason: 'origin_not_allowed' },
    });
  if (header(r, 'sec-fetch-site') === 'cross-site')
    return new HttpError('cross_site_refused', 403, 'cross-site requests are refused', {
      log: { reason: 'sec_fetch_site' },
    });
  if (header(r, REQUESTED_BY_HEADER)?.trim().toLowerCase() !== REQUESTED_BY)
    return new HttpError(
      'cross_site_refused',
      403,
      `a state-changing request carries the header X-Requested-By: ${REQUESTED_BY} (and Content-Type: application/json)`,
      { log: { reason: 'requested_by_missing' } },
    );
  const type = header(r, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    return new HttpError('unsupported_media_type', 415, 'Content-Type must be application/json, even with no body');
  return undefined;
}
