/**
 * The one client of the Modal app's endpoints (docs/modal-sender.md): `status` for the reconciler,
 * `cancel` for the admin API, and a signed POST to any URL (the admin's test delivery to our own
 * webhook). Every request is signed as a completion webhook is (seed scheme, the current secret),
 * so the app verifies it with the same `verify()`.
 */
import { z } from 'zod';
import type { Clock } from '../ports';
import { sign } from '../contract/signature';

/** What the Modal app's status endpoint answers. */
export const statusAnswerSchema = z.looseObject({
  call_id: z.string(),
  status: z.enum(['running', 'pending', 'success', 'failure', 'timeout', 'function.success', 'function.failure', 'function.timeout']),
  result: z.unknown().optional(),
  error: z.unknown().optional(),
});
export type StatusAnswer = z.output<typeof statusAnswerSchema>;

export interface ModalClientDeps {
  secret: string;
  fetch: typeof fetch;
  clock: Clock;
  userAgent: string;
  timeoutMs?: number;
}

export interface SignedAnswer {
  status: number;
  /** At most 500 characters of the answer, for an operator to read. */
  text: string;
}

export function createModalClient(deps: ModalClientDeps) {
  const base = (url: string) => url.replace(/\/$/, '');

  async function post(url: string, payload: unknown): Promise<Response> {
    const body = JSON.stringify(payload);
    return deps.fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': deps.userAgent,
        'x-modal-signature': sign(deps.secret, body),
        'x-modal-timestamp': String(Math.floor(deps.clock().getTime() / 1000)),
      },
      body,
      signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
    });
  }

  return {
    /** A signed POST; the answer's status and the start of its text. */
    async signedPost(url: string, payload: unknown): Promise<SignedAnswer> {
      const res = await post(url, payload);
      return { status: res.status, text: (await res.text()).slice(0, 500) };
    },
    /** Asks the app's status endpoint how a call stands; throws when it cannot say. */
    async status(statusUrl: string, callId: string): Promise<StatusAnswer> {
      const res = await post(`${base(statusUrl)}/status`, { call_id: callId });
      if (!res.ok) throw new Error(`status endpoint answered ${res.status}`);
      return statusAnswerSchema.parse(await res.json());
    },
    /** Asks the app to cancel a call. */
    async cancel(controlUrl: string, request: { call_id: string; job_id: string; reason: string | null }): Promise<SignedAnswer> {
      const res = await post(`${base(controlUrl)}/cancel`, request);
      return { status: res.status, text: (await res.text()).slice(0, 500) };
    },
  };
}

export type ModalClient = ReturnType<typeof createModalClient>;
