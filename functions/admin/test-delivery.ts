/**
 * `POST …/modal/test`: a signed test delivery through the real webhook, and — with `wait` — the
 * wait until the worker records it, so an operator sees the whole path work end to end.
 */
import { randomBytes } from 'node:crypto';
import type { AdminConfig } from '../../shared/config/config';
import { deliveryId } from '../../shared/contract/delivery';
import type { ModalClient, SignedAnswer } from '../../shared/modal/modal-client';
import { HttpError } from '../../shared/platform/errors';
import type { AdminStore, Clock } from '../../shared/ports';
import { parse, testSchema } from './requests';
import { route, type Route } from './router';

export interface TestDeliveryDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  modal: ModalClient;
  clock: Clock;
}

export function createTestDeliveryRoute(PREFIX: string, deps: TestDeliveryDeps): Route {
  const { config, store, clock, modal: client } = deps;
  return route('POST', `${PREFIX}/modal/test`, async (req) => {
    const { wait } = parse(testSchema, req.body, 'body');
    if (!config.webhookUrl)
      throw new HttpError('not_configured', 503, 'WEBHOOK_URL is not set: there is no webhook to test');
    const suffix = randomBytes(6).toString('hex');
    const payload = {
      call_id: `test-call-${suffix}`,
      status: 'success',
      result: { affinity: 0, confidence: 0, execution_time: 0 },
      metadata: { job_id: `test-job-${suffix}`, test: true, timestamp: clock().toISOString() },
    };
    const started = clock().getTime();
    let sent: SignedAnswer;
    try {
      sent = await client.signedPost(config.webhookUrl, payload);
    } catch (err) {
      return {
        status: 502,
        body: { status: 'unreachable', delivered: false, error: String(err), webhook_url: config.webhookUrl },
      };
    }
    const acceptedMs = clock().getTime() - started;
    const base = {
      delivery_id: deliveryId(payload.call_id, 'success'),
      call_id: payload.call_id,
      webhook_url: config.webhookUrl,
      webhook_status: sent.status,
      accepted_ms: acceptedMs,
    };
    if (sent.status !== 202) {
      return { status: 502, body: { status: 'rejected', delivered: false, ...base, webhook_response: sent.text } };
    }
    if (!wait) return { status: 202, body: { status: 'accepted', delivered: true, arrived: null, ...base } };
    const deadline = started + config.testTimeoutMs;
    while (clock().getTime() < deadline) {
      const arrived = await store.getTest(payload.metadata.job_id);
      if (arrived) {
        return {
          status: 200,
          body: {
            status: 'ok',
            delivered: true,
            arrived: true,
            ...base,
            end_to_end_ms: clock().getTime() - started,
            processing_latency_ms: arrived.processing_latency_ms ?? null,
          },
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      status: 504,
      body: { status: 'not_arrived', delivered: true, arrived: false, ...base, waited_ms: config.testTimeoutMs },
    };
  });
}
