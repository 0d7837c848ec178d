import type { PulledMessage, PullSource } from '../../../../shared/adapters/pubsub';
import { redeliveryDelaySeconds, startPushRelay } from '../../../../scripts/local/push-relay';
import { until } from '../../../support/until';

const waitFor = (what: string, ok: () => boolean, timeoutMs = 5000) =>
  until(what, async () => (ok() ? true : undefined), timeoutMs);

const retry = { minimumBackoffSeconds: 1, maximumBackoffSeconds: 10, maxDeliveryAttempts: 5 };

it.each([
  [1, 1],
  [2, 2],
  [3, 4],
  [4, 8],
  [5, 10],
  [9, 10],
])('backs off like Pub/Sub: attempt %i failed → next in %i s', (attempt, seconds) => {
  expect(redeliveryDelaySeconds(attempt, retry)).toBe(seconds);
});

/** An in-memory subscription: messages wait, are pulled, then acked or handed back with a delay. */
function fakeSubscription(messages: Array<Partial<PulledMessage>>, failPulls = 0) {
  const queue = messages.map((m, i) => ({
    ackId: `a${i}`,
    id: `m${i}`,
    data: Buffer.from('{}'),
    attributes: {},
    publishTime: new Date(0).toISOString(),
    deliveryAttempt: 1,
    ...m,
  }));
  const acked: string[] = [];
  const handedBack: Array<[string, number]> = [];
  let pullFailures = failPulls;
  let connects = 0;
  const connect = (): PullSource => {
    connects++;
    return {
      subscription: 'projects/p/subscriptions/s',
      async pull(max) {
        if (pullFailures > 0) {
          pullFailures--;
          throw new Error('14 UNAVAILABLE: Connection dropped');
        }
        return queue.splice(0, max);
      },
      async ack(ids) {
        acked.push(...ids);
      },
      async redeliverAfter(ids, seconds) {
        for (const id of ids) handedBack.push([id, seconds]);
      },
      async close() {},
    };
  };
  return {
    connect,
    acked,
    handedBack,
    get connects() {
      return connects;
    },
  };
}

const answer = (status: number) => (async () => new Response('{}', { status })) as unknown as typeof fetch;

it('acknowledges what the worker took, and hands back what it refused only after the backoff of its attempt (inside the lease)', async () => {
  const sub = fakeSubscription([{ deliveryAttempt: 1 }, { deliveryAttempt: 3, attributes: { fail: '1' } }]);
  const logs: Array<Record<string, unknown>> = [];
  const relay = startPushRelay({
    endpoint: 'http://worker',
    concurrency: 4,
    ackDeadlineSeconds: 3,
    retry,
    connect: sub.connect,
    log: (e) => logs.push(e),
    fetch: (async (_url: string, init: RequestInit) =>
      JSON.parse(init.body as string).message.attributes.fail
        ? new Response('{}', { status: 500 })
        : new Response(null, { status: 204 })) as unknown as typeof fetch,
  });
  const started = Date.now();
  await waitFor('acked', () => sub.acked.length === 1);
  expect(sub.handedBack).toEqual([]);
  await waitFor('handed back', () => sub.handedBack.length === 1);
  // Attempt 3 backs off 4 s, cut to what the 3 s lease leaves (1.5 s kept for the nack).
  expect(Date.now() - started).toBeGreaterThanOrEqual(1300);
  await relay.close();
  expect(sub.acked).toEqual(['a0']);
  expect(sub.handedBack).toEqual([['a1', 0]]);
  expect(logs).toEqual([]);
});

it('says why a message goes to the dead-letter topic on its last attempt', async () => {
  const sub = fakeSubscription([{ deliveryAttempt: 5, attributes: { delivery_id: 'dlv_x' } }]);
  const logs: Array<Record<string, unknown>> = [];
  const relay = startPushRelay({
    endpoint: 'http://worker',
    concurrency: 1,
    ackDeadlineSeconds: 10,
    retry,
    connect: sub.connect,
    log: (e) => logs.push(e),
    fetch: answer(503),
  });
  const started = Date.now();
  await waitFor('handed back', () => sub.handedBack.length === 1);
  // The last attempt is handed over at once: the dead-letter policy takes it from there.
  expect(Date.now() - started).toBeLessThan(1000);
  await relay.close();
  expect(sub.handedBack).toEqual([['a0', 0]]);
  expect(logs).toEqual([
    expect.objectContaining({
      event: 'pushDeadLettered',
      delivery_id: 'dlv_x',
      delivery_attempt: 5,
      reason: 'worker answered 503',
    }),
  ]);
});

it('logs a failing pull, replaces the client after three in a row, logs the recovery and delivers', async () => {
  const sub = fakeSubscription([{}], 4);
  const logs: Array<Record<string, unknown>> = [];
  const relay = startPushRelay({
    endpoint: 'http://worker',
    concurrency: 2,
    ackDeadlineSeconds: 10,
    retry,
    connect: sub.connect,
    log: (e) => logs.push(e),
    fetch: answer(200),
  });
  await waitFor('acked', () => sub.acked.length === 1, 10_000);
  await relay.close();
  expect(logs.filter((l) => l.event === 'pushRelayError')).toHaveLength(4);
  expect(logs.find((l) => l.event === 'pushRelayRecovered')).toMatchObject({ failures: 4 });
  expect(sub.connects).toBe(2);
  expect(relay.stats).toMatchObject({ pullErrors: 4, reconnects: 1, acked: 1 });
});

it('hands back a message whose worker cannot be reached, and never pushes more than its concurrency at once', async () => {
  const sub = fakeSubscription(Array.from({ length: 20 }, () => ({})));
  let active = 0;
  let most = 0;
  const relay = startPushRelay({
    endpoint: 'http://worker',
    concurrency: 3,
    ackDeadlineSeconds: 2,
    retry,
    connect: sub.connect,
    log: () => undefined,
    fetch: async () => {
      active++;
      most = Math.max(most, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      throw new TypeError('fetch failed');
    },
  });
  await waitFor('all handed back', () => sub.handedBack.length === 20, 15_000);
  await relay.close();
  expect(most).toBe(3);
  expect(sub.handedBack.every(([, s]) => s === 0)).toBe(true);
});
