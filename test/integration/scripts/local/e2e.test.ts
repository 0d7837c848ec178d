/**
 * The newcomer's script, automated: the whole pipeline as `npm start` runs it (both functions in
 * the real Functions Framework from dist/, the emulators, the push subscription), driven over HTTP
 * with the seed's payloads, and Firestore read back.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Firestore } from '@google-cloud/firestore';
import { startLocalStack, type LocalStack } from '../../../../scripts/local/local-stack';
import { fixture, failurePayload, successPayload } from '../../../support/fixtures';
import { ADMIN_POST_HEADERS, postSigned } from '../../../support/http';
import { until, untilLogged } from '../../../support/until';
import { emulatorFirestore } from '../../../support/worker';
import { sign, signStandard } from '../../../../shared/contract/signature';

jest.setTimeout(180_000);

const run = randomBytes(3).toString('hex');
const collections = {
  JOBS_COLLECTION: `e2e_jobs_${run}`,
  BATCHES_COLLECTION: `e2e_batches_${run}`,
  DEAD_LETTERS_COLLECTION: `e2e_dead_${run}`,
};
const PREVIOUS_SECRET = 'e2e-previous-secret-0123456789';

let stack: LocalStack;
let db: Firestore;
const logs: Array<{ service: string; line: string }> = [];

const jobDoc = (id: string) => db.collection(collections.JOBS_COLLECTION).doc(id);
const batchDoc = (id: string) => db.collection(collections.BATCHES_COLLECTION).doc(id);
const jobWithStatus = (id: string, status: string) =>
  until(`job ${id} ${status}`, async () => {
    const data = (await jobDoc(id).get()).data();
    return data?.status === status ? data : undefined;
  });
const send = (payload: unknown, options: Partial<Parameters<typeof postSigned>[2]> = {}) =>
  postSigned(stack.webhookUrl, typeof payload === 'string' ? payload : JSON.stringify(payload), {
    secret: stack.secret,
    ...options,
  });
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  stack = await startLocalStack({
    projectId: process.env.GOOGLE_CLOUD_PROJECT!,
    completionsTopic: `e2e-completions-${run}`,
    batchEventsTopic: `e2e-batch-events-${run}`,
    env: { ...collections, MODAL_WEBHOOK_SECRET_PREVIOUS: PREVIOUS_SECRET },
    onLog: (service, line) => logs.push({ service, line }),
  });
  db = emulatorFirestore();
});

afterAll(async () => {
  await stack?.stop();
});

const id = (name: string) => `${name}-${run}`;

it('answers the seed health check on both paths', async () => {
  for (const path of ['/health', '/api/v3/webhooks/modal/health']) {
    const res = await fetch(stack.webhookUrl + path);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'healthy', service: 'modal_webhook_handler' });
  }
});

it('turns the seed webhook into a completed job with its structure file', async () => {
  const payload = successPayload({ call_id: id('call-seed'), job_id: id('job-seed'), batch_id: null });
  const res = await send(payload);
  expect(res.status).toBe(202);
  const job = await jobWithStatus(id('job-seed'), 'completed');
  expect(job).toMatchObject({
    modal_call_id: id('call-seed'),
    delivery_id: res.json.delivery_id,
    result: { affinity: 0.6385 },
  });
  expect(statSync(fileURLToPath(job.structure_uri)).size).toBeGreaterThan(100);
});

it("follows one completion end to end in one trace: the worker's lines carry the webhook request's trace", async () => {
  const traceId = 'abcdef0123456789abcdef0123456789';
  await batchDoc(id('trace-batch')).set({ total_jobs: 1 });
  const res = await send(
    {
      call_id: id('call-trace'),
      status: 'success',
      result: { affinity: 0.4 },
      metadata: { job_id: id('job-trace'), batch_id: id('trace-batch') },
    },
    { headers: { 'x-cloud-trace-context': `${traceId}/1;o=1` } },
  );
  expect(res.status).toBe(202);
  await until('batch completed', async () =>
    (await batchDoc(id('trace-batch')).get()).data()?.status === 'completed' ? true : undefined,
  );
  const trace = `projects/${process.env.GOOGLE_CLOUD_PROJECT}/traces/${traceId}`;
  const traced = await until(
    "the worker's traced lines",
    async () => {
      const lines = logs
        .map((l) => ({
          service: l.service,
          entry: (() => {
            try {
              return JSON.parse(l.line);
            } catch {
              return {};
            }
          })(),
        }))
        .filter((l) => l.entry['logging.googleapis.com/trace'] === trace);
      const events = new Set(lines.map((l) => `${l.service}:${l.entry.event}`));
      return [
        'webhook:webhookAccepted',
        'worker:completionApplied',
        'worker:batchCompleted',
        'worker:batchEventPublished',
      ].every((e) => events.has(e))
        ? events
        : undefined;
    },
    15_000,
  );
  expect([...traced]).toEqual(
    expect.arrayContaining([
      'webhook:webhookAccepted',
      'worker:completionApplied',
      'worker:batchCompleted',
      'worker:batchEventPublished',
    ]),
  );
});

it('rejects tampered, stale and future webhooks and writes nothing', async () => {
  const payload = successPayload({ call_id: id('call-bad'), job_id: id('job-bad') });
  const body = JSON.stringify(payload);
  const tampered = await send(body.replace('0.6385', '0.9999'), { signature: sign(stack.secret, body) });
  const stale = await send(payload, { timestamp: now() - 600 });
  const future = await send(payload, { timestamp: now() + 600 });
  expect([tampered.json.error, stale.json.error, future.json.error]).toEqual([
    'bad_signature',
    'stale_timestamp',
    'future_timestamp',
  ]);
  expect([tampered.status, stale.status, future.status]).toEqual([401, 401, 401]);
  await new Promise((r) => setTimeout(r, 500));
  expect((await jobDoc(id('job-bad')).get()).exists).toBe(false);
  await untilLogged('signatureRejected ×3', logs, (l) => l.line.includes('"signatureRejected"'), 3);
  expect(JSON.stringify(logs)).not.toContain(stack.secret);
});

it('applies a duplicated webhook once', async () => {
  await batchDoc(id('batch-dup')).set({ total_jobs: 2 });
  const payload = successPayload({ call_id: id('call-dup'), job_id: id('job-dup'), batch_id: id('batch-dup') });
  // Two copies of one signed request at once (published once, both answered with its message id),
  // and the same completion sent again with other bytes (a sender's retry): published, and applied once.
  const retried = JSON.stringify(payload, null, 1);
  const answers = await Promise.all([send(payload), send(payload, { timestamp: now() - 5 }), send(retried)]);
  expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
  expect(new Set(answers.map((a) => a.json.delivery_id)).size).toBe(1);
  expect(answers[0].json.message_id).toBe(answers[1].json.message_id);
  expect(answers[2].json.message_id).not.toBe(answers[0].json.message_id);
  await jobWithStatus(id('job-dup'), 'completed');
  const processed = await until('both published deliveries processed', async () => {
    const lines = logs.filter(
      (l) => l.line.includes(id('job-dup')) && /completionApplied|completionDuplicate/.test(l.line),
    );
    return lines.length >= 2 ? lines : undefined;
  });
  expect(processed.filter((l) => l.line.includes('completionApplied'))).toHaveLength(1);
  // The batch document's counts follow the counter shards within BATCH_COUNTS_INTERVAL_MS.
  await until(
    'batch counts',
    async () => ((await batchDoc(id('batch-dup')).get()).data()?.completed_jobs === 1 ? true : undefined),
    5000,
  );
  const shards = await batchDoc(id('batch-dup')).collection('counters').get();
  expect(shards.docs.reduce((n, d) => n + Number(d.get('completed') ?? 0), 0)).toBe(1);
});

it('keeps completed final when a failure arrives out of order, and upgrades a failure when a retry succeeds', async () => {
  await send(successPayload({ call_id: id('call-ooo-1'), job_id: id('job-ooo') }));
  await jobWithStatus(id('job-ooo'), 'completed');
  await send(failurePayload({ call_id: id('call-ooo-0'), job_id: id('job-ooo') }));
  const late = await until('late event', async () => {
    const data = (await jobDoc(id('job-ooo')).get()).data();
    return data?.late_events?.length ? data : undefined;
  });
  expect(late).toMatchObject({ status: 'completed', modal_call_id: id('call-ooo-1') });

  await send(failurePayload({ call_id: id('call-retry-0'), job_id: id('job-retry') }, 'timeout'));
  await jobWithStatus(id('job-retry'), 'timeout');
  await send(successPayload({ call_id: id('call-retry-1'), job_id: id('job-retry') }));
  expect(await jobWithStatus(id('job-retry'), 'completed')).toMatchObject({ previous_status: 'timeout' });
});

it('carries an 8 MB payload through the claim check without loss', async () => {
  const payload = fixture('seed-success');
  const structure = Buffer.concat([
    Buffer.from('data_big\n'),
    Buffer.alloc(6 * 1024 * 1024, 'ATOM 1 N N MET A 1 11.104 13.207 2.100\n'),
  ]);
  payload.call_id = id('call-big');
  payload.metadata = { job_id: id('job-big') };
  payload.result.structure_file_base64 = structure.toString('base64');
  const body = JSON.stringify(payload);
  expect(body.length).toBeGreaterThan(8_000_000);
  const res = await send(body);
  expect(res.status).toBe(202);
  const job = await jobWithStatus(id('job-big'), 'completed');
  expect(statSync(fileURLToPath(job.structure_uri)).size).toBe(structure.length);
});

it('answers malformed JSON with 400 and keeps the body out of the logs', async () => {
  const marker = `malformed-${run}`;
  const res = await send(`{"call_id":"${marker}",`);
  expect(res.status).toBe(400);
  await until(
    'rejection logged',
    async () => (logs.some((l) => l.line.includes('"invalid_json"')) ? true : undefined),
    5000,
  );
  expect(JSON.stringify(logs)).not.toContain(marker);
});

it('completes a 200-job burst into one batch, counts exact, through push', async () => {
  const batchId = id('burst');
  await batchDoc(batchId).set({ total_jobs: 200 });
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      send(
        i % 20 === 0
          ? failurePayload({ call_id: id(`burst-call-${i}`), job_id: id(`burst-job-${i}`), batch_id: batchId })
          : successPayload(
              { call_id: id(`burst-call-${i}`), job_id: id(`burst-job-${i}`), batch_id: batchId },
              { affinity: i / 200 },
            ),
      ),
    ),
  );
  expect(answers.filter((a) => a.status === 202)).toHaveLength(200);
  const batch = await until(
    'batch completed',
    async () => {
      const data = (await batchDoc(batchId).get()).data();
      return data?.status === 'completed' ? data : undefined;
    },
    120_000,
  );
  process.stdout.write(
    `200-job burst: batch completed ${((Date.now() - started) / 1000).toFixed(1)} s after the first webhook\n`,
  );
  expect(batch).toMatchObject({
    completed_jobs: 190,
    failed_jobs: 10,
    summary: { total_jobs: 200, best_job: { job_id: id('burst-job-199') } },
  });
});

it('serves the admin API: a signed test delivery arrives end to end, and status reports real checks', async () => {
  const test = await fetch(`${stack.adminUrl}/api/v3/webhooks/modal/test`, {
    method: 'POST',
    headers: ADMIN_POST_HEADERS,
  });
  const body = (await test.json()) as Record<string, unknown>;
  expect(test.status).toBe(200);
  expect(body).toMatchObject({ status: 'ok', arrived: true, webhook_status: 202 });
  process.stdout.write(
    `admin test delivery: accepted in ${String(body.accepted_ms)} ms, at the worker in ${String(body.end_to_end_ms)} ms\n`,
  );
  const status = (await (await fetch(`${stack.adminUrl}/api/v3/webhooks/status`)).json()) as Record<string, any>;
  expect(status).toMatchObject({
    health_status: 'healthy',
    checks: { topic_reachable: true, firestore_reachable: true },
  });
  const job = await fetch(`${stack.adminUrl}/api/v3/webhooks/jobs/${id('job-seed')}`);
  expect(((await job.json()) as Record<string, unknown>).status).toBe('completed');
});

describe('Standard Webhooks through the whole stack', () => {
  const url = () => `${stack.webhookUrl}/api/v3/webhooks/modal/completion`;
  const post = (body: string, headers: Record<string, string>) =>
    fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then(
      async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }),
    );
  const signed = (body: string, secret: string, ts = now(), id = `msg_${randomBytes(6).toString('hex')}`) => ({
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': signStandard(secret, id, ts, body),
  });

  it('applies a bound-scheme completion, also one signed with the previous secret during a rotation', async () => {
    const body = JSON.stringify(successPayload({ call_id: id('call-std'), job_id: id('job-std') }));
    expect((await post(body, signed(body, stack.secret))).status).toBe(202);
    await jobWithStatus(id('job-std'), 'completed');
    const rotated = JSON.stringify(successPayload({ call_id: id('call-std-prev'), job_id: id('job-std-prev') }));
    expect((await post(rotated, signed(rotated, PREVIOUS_SECRET))).status).toBe(202);
    await jobWithStatus(id('job-std-prev'), 'completed');
  });

  it('refuses a captured request replayed with a fresh timestamp, or as it was once outside the window', async () => {
    const body = JSON.stringify(successPayload({ call_id: id('call-replay'), job_id: id('job-replay') }));
    const captured = signed(body, stack.secret, now() - 400);
    expect(await post(body, captured)).toMatchObject({ status: 401, json: { error: 'stale_timestamp' } });
    expect(await post(body, { ...captured, 'webhook-timestamp': String(now()) })).toMatchObject({
      status: 401,
      json: { error: 'bad_signature' },
    });
    expect(
      await post(body, {
        ...captured,
        'x-modal-signature': sign(stack.secret, body),
        'x-modal-timestamp': String(now()),
      }),
    ).toMatchObject({ status: 401, json: { error: 'mixed_schemes' } });
    expect((await jobDoc(id('job-replay')).get()).exists).toBe(false);
  });
});
