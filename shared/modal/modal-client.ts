/**
 * The one client of the Modal app's endpoints (docs/modal-sender.md): `status` for the reconciler,
 * `cancel` and `askForTestDelivery` for the admin API — control requests, signed with the control
 * key over method, path, timestamp and body (shared/contract/control.ts; the app checks them with
 * `verify_control()`) — and `signedPost`, signed as a completion webhook is, for the admin's test
 * delivery to our own webhook.
 */
import { z } from 'zod';
import type { Clock } from '../ports';
import { CONTROL_SIGNATURE_HEADER, CONTROL_TIMESTAMP_HEADER, signControl } from '../contract/control';
import { sign } from '../contract/signature';

/** What the Modal app's status endpoint answers. */
export const statusAnswerSchema = z.looseObject({
  call_id: z.string(),
  status: z.enum([
    'running',
    'pending',
    'success',
    'failure',
    'timeout',
    'function.success',
    'function.failure',
    'function.timeout',
  ]),
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

  /** A POST signed as a completion webhook is (our own webhook's test delivery). */
  async function postAsWebhook(url: string, payload: unknown): Promise<Response> {
    const body = JSON.stringify(payload);
    return send(url, body, { 'x-modal-signature': sign(deps.secret, body), 'x-modal-timestamp': String(now()) });
  }

  /** A control request to a Modal app: method, path, timestamp and body bound, with the control key (shared/contract/control.ts). */
  async function postControl(url: string, payload: unknown): Promise<Response> {
    const body = JSON.stringify(payload);
    const timestamp = now();
    return send(url, body, {
      [CONTROL_TIMESTAMP_HEADER]: String(timestamp),
      [CONTROL_SIGNATURE_HEADER]: signControl(deps.secret, 'POST', new URL(url).pathname, timestamp, body),
    });
  }

  const now = () => Math.floor(deps.clock().getTime() / 1000);
  function send(url: string, body: string, signature: Record<string, string>): Promise<Response> {
    return deps.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': deps.userAgent, ...signature },
      body,
      signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
    });
  }

  return {
    /** A POST signed as a completion webhook (the admin's test delivery to our own webhook). */
    async signedPost(url: string, payload: unknown): Promise<SignedAnswer> {
      const res = await postAsWebhook(url, payload);
      return { status: res.status, text: (await res.text()).slice(0, 500) };
    },
    /** Asks an app's control endpoint for a signed test delivery of its own. */
    async askForTestDelivery(controlUrl: string, app: string): Promise<SignedAnswer> {
      const res = await postControl(`${base(controlUrl)}/test-delivery`, { app });
      return { status: res.status, text: (await res.text()).slice(0, 500) };
    },
    /** Asks the app's status endpoint how a call stands; throws when it cannot say. */
    async status(statusUrl: string, callId: string): Promise<StatusAnswer> {
      const res = await postControl(`${base(statusUrl)}/status`, { call_id: callId });
      if (!res.ok) throw new Error(`status endpoint answered ${res.status}`);
      return statusAnswerSchema.parse(await res.json());
    },
    /** Asks the app to cancel a call. */
    async cancel(
      controlUrl: string,
      request: { call_id: string; job_id: string; reason: string | null },
    ): Promise<SignedAnswer> {
      const res = await postControl(`${base(controlUrl)}/cancel`, request);
      return { status: res.status, text: (await res.text()).slice(0, 500) };
    },
  };
}

export type ModalClient = ReturnType<typeof createModalClient>;
