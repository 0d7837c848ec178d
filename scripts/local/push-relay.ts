/**
 * The local stand-in for Pub/Sub push (production pushes to the worker itself; the emulator's push
 * delivers two at a time and cannot back off). It pulls a subscription and POSTs each message to
 * the worker in push format, `concurrency` at once, and behaves as production push does:
 * - every message it takes is pushed, then acknowledged (2xx) or handed back, within the ack
 *   deadline: a push that has not answered by then is abandoned and handed back;
 * - a refused or failed push backs off before the message is handed back: the relay holds it for
 *   the subscription's retry backoff (doubling from `minimumBackoffSeconds` by delivery attempt, at
 *   most `maximumBackoffSeconds`, always inside the ack deadline), then nacks it, and the emulator
 *   applies the subscription's own retry policy on top. A worker down for a few seconds therefore
 *   does not burn a message's delivery attempts; after the last attempt the emulator's dead-letter
 *   policy moves it to the dead-letter topic, and the relay logs why (`pushDeadLettered`). (A
 *   modAck with a delay instead of the wait would be simpler, but the emulator loses such messages
 *   once its connection has been reset: the fault suite caught it.)
 * - nothing is leased beyond its ack deadline: if an acknowledgement is lost with the connection,
 *   the message comes back (the worker is idempotent);
 * - a failing pull is logged (`pushRelayError`, with how many in a row), retried with backoff and,
 *   after three in a row, the client is replaced; recovery is logged too (`pushRelayRecovered`).
 */
import type { PulledMessage, PullSource } from '../../shared/adapters/pubsub';

export interface RetryPolicy {
  minimumBackoffSeconds: number;
  maximumBackoffSeconds: number;
  maxDeliveryAttempts: number;
}

export interface PushRelayOptions {
  endpoint: string;
  concurrency: number;
  ackDeadlineSeconds: number;
  retry: RetryPolicy;
  /** A new pull source (a new client): at start and after repeated failures. */
  connect: () => PullSource;
  fetch?: typeof fetch;
  /** One JSON log line per call, as the functions write them. */
  log: (entry: Record<string, unknown>) => void;
}

/** Seconds before a message's next delivery after `attempt` failed: Pub/Sub's exponential backoff. */
export function redeliveryDelaySeconds(
  attempt: number,
  retry: Pick<RetryPolicy, 'minimumBackoffSeconds' | 'maximumBackoffSeconds'>,
): number {
  return Math.min(retry.maximumBackoffSeconds, retry.minimumBackoffSeconds * 2 ** Math.max(0, attempt - 1));
}

/** The push body production sends (a Pub/Sub push envelope). */
export function pushBody(m: PulledMessage, subscription: string): string {
  return JSON.stringify({
    message: {
      data: m.data.toString('base64'),
      attributes: m.attributes,
      messageId: m.id,
      message_id: m.id,
      publishTime: m.publishTime,
      publish_time: m.publishTime,
    },
    subscription,
    deliveryAttempt: m.deliveryAttempt,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits that end early, all at once, when the relay closes. */
function createPauses() {
  const pausing = new Set<() => void>();
  return {
    pause: (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          pausing.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        pausing.add(done);
      }),
    endAll: () => {
      for (const done of [...pausing]) done();
    },
  };
}

/**
 * How long a refused message is held before it is handed back: its retry backoff, inside what is
 * left of its lease (1.5 s spared for the nack itself); none after its last attempt.
 */
function holdBeforeHandBack(m: PulledMessage, heldMs: number, options: PushRelayOptions): number {
  if (m.deliveryAttempt >= options.retry.maxDeliveryAttempts) return 0;
  const leaseLeft = options.ackDeadlineSeconds * 1000 - heldMs - 1500;
  return Math.min(redeliveryDelaySeconds(m.deliveryAttempt, options.retry) * 1000, leaseLeft);
}

/** One push to the worker, answered well inside the ack deadline or abandoned: whether it took the message, and why not. */
async function pushOnce(
  post: typeof fetch,
  endpoint: string,
  body: string,
  timeoutMs: number,
): Promise<{ ok: boolean; reason: string }> {
  try {
    const res = await post(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return { ok: res.ok, reason: `worker answered ${res.status}` };
  } catch (err) {
    return { ok: false, reason: `worker unreachable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export function startPushRelay(options: PushRelayOptions) {
  const post = options.fetch ?? fetch;
  let source = options.connect();
  let running = true;
  let inFlight = 0;
  let failuresInARow = 0;
  const stats = { pushed: 0, acked: 0, handedBack: 0, pullErrors: 0, reconnects: 0 };
  let wake: (() => void) | undefined;
  const { pause, endAll } = createPauses();
  const error = (event: string, message: string, fields: Record<string, unknown>) =>
    options.log({ severity: 'ERROR', event, message, ...fields });

  async function settle(m: PulledMessage, ok: boolean, reason: string, pulledAt: number): Promise<void> {
    const wait = ok ? 0 : holdBeforeHandBack(m, Date.now() - pulledAt, options);
    if (wait > 0) await pause(wait);
    const current = source;
    try {
      if (ok) {
        await current.ack([m.ackId]);
        stats.acked++;
        return;
      }
      stats.handedBack++;
      if (m.deliveryAttempt >= options.retry.maxDeliveryAttempts) {
        const last = `delivery ${m.deliveryAttempt} of ${options.retry.maxDeliveryAttempts} failed (${reason})`;
        error('pushDeadLettered', `${last}; the subscription's dead-letter policy takes the message`, {
          message_id: m.id,
          delivery_id: m.attributes.delivery_id,
          delivery_attempt: m.deliveryAttempt,
          reason,
        });
      }
      await current.redeliverAfter([m.ackId], 0);
    } catch (err) {
      // The lease runs out by itself: the message comes back after its ack deadline.
      const what = `could not ${ok ? 'acknowledge' : 'hand back'} message ${m.id}: ${String(err)}`;
      error('pushRelayError', `${what}; it is redelivered after its ack deadline`, { message_id: m.id });
    }
  }

  async function deliver(m: PulledMessage): Promise<void> {
    const pulledAt = Date.now();
    stats.pushed++;
    const timeoutMs = Math.max(1000, options.ackDeadlineSeconds * 1000 - 2000);
    const { ok, reason } = await pushOnce(post, options.endpoint, pushBody(m, source.subscription), timeoutMs);
    await settle(m, ok, reason, pulledAt);
  }

  async function loop(): Promise<void> {
    while (running) {
      if (inFlight >= options.concurrency) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      let messages: PulledMessage[];
      try {
        messages = await source.pull(options.concurrency - inFlight);
        if (failuresInARow > 0) {
          options.log({
            severity: 'INFO',
            event: 'pushRelayRecovered',
            message: `pulling again after ${failuresInARow} failed pulls`,
            failures: failuresInARow,
          });
          failuresInARow = 0;
        }
      } catch (err) {
        if (!running) return;
        failuresInARow++;
        stats.pullErrors++;
        const why = err instanceof Error ? err.message : String(err);
        error('pushRelayError', `pull failed (${failuresInARow} in a row): ${why}`, { failures: failuresInARow });
        // Every third failure in a row, a new client: a new channel, whatever state the old one was left in.
        if (failuresInARow % 3 === 0) {
          void source.close().catch(() => undefined);
          source = options.connect();
          stats.reconnects++;
        }
        await sleep(Math.min(2000, 100 * 2 ** Math.min(failuresInARow, 5)));
        continue;
      }
      if (messages.length === 0) {
        await sleep(50);
        continue;
      }
      for (const m of messages) {
        inFlight++;
        void deliver(m).finally(() => {
          inFlight--;
          wake?.();
          wake = undefined;
        });
      }
    }
  }

  const done = loop();
  return {
    stats,
    get inFlight() {
      return inFlight;
    },
    async close(): Promise<void> {
      running = false;
      wake?.();
      endAll();
      await done.catch(() => undefined);
      const deadline = Date.now() + options.ackDeadlineSeconds * 1000;
      while (inFlight > 0 && Date.now() < deadline) await sleep(20);
      await source.close().catch(() => undefined);
    },
  };
}
