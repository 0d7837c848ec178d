/**
 * The admin API as the command-line tools call it: JSON in and out, every state-changing call with
 * the header and content type the admin requires (functions/admin/cross-site.ts), and the
 * operator's identity token sent only over https or to this machine (secureUrl refuses the rest).
 */
import { secureUrl } from './configure-target';

export interface AdminClient {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const PREFIX = '/api/v3/webhooks';

/** `adminUrl`: the admin's origin (https, or http on this machine); `token`: an identity token. */
export function createAdminClient(
  adminUrl: string,
  token: string | undefined,
  fetchFn: typeof fetch = fetch,
): AdminClient {
  const base = secureUrl('the admin API', adminUrl);
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetchFn(`${base}${PREFIX}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...auth,
        ...(method === 'POST' ? { 'content-type': 'application/json', 'x-requested-by': 'omtx' } : {}),
      },
      ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new AdminError(res.status, `the admin API answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  };
}
