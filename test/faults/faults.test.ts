/**
 * The fault suite (`npm run test:faults`, also part of `npm test`): the whole local stack as
 * `npm start` runs it, with a TCP proxy in front of each emulator that can be cut, and the rule
 * "a 202 means applied or visibly dead-lettered" checked under outages, a killed worker, duplicates
 * and reordering, and a property-based fuzz of the webhook → worker boundary. It prints its figures.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Firestore } from '@google-cloud/firestore';
import fc from 'fast-check';
import { startLocalStack, type LocalStack } from '../../scripts/local/local-stack';
import { sign } from '../../shared/contract/signature';
import { postSigned } from '../support/http';
import { until } from '../support/until';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { emulatorFirestore } from '../support/worker';

jest.setTimeout(300_000);

const run = randomBytes(3).toString('hex');
const collections = { JOBS_COLLECTION: `f_jobs_${run}`, BATCHES_COLLECTION: `f_batches_${run}`, PIPELINE_COLLECTION_PREFIX: `f${run}_` };
const PUBLISH_TIMEOUT_MS = 2000;

let stack: LocalStack;
let db: Firestore;
let pubsubProxy: TcpProxy;
let firestoreProxy: TcpProxy;
const logs: Array<{ service: string; entry: Record<string, unknown> }> = [];
const figures: string[] = [];
const peak = { webhook: 0, worker: 0 };

function note(line: string) {
  figures.push(line);
}

/** Peak resident memory (VmHWM) of a function's current process, in MiB. */
function sampleMemory(): void {
  for (const name of ['webhook', 'worker'] as const) {
    try {
      const status = readFileSync(`/proc/${stack.functions[name].child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak[name] = Math.max(peak[name], kb / 1024);
    } catch {
      // process gone (restarting)
    }
  }
}


const jobs = () => db.collection(collections.JOBS_COLLECTION);
const batches = () => db.collection(collections.BATCHES_COLLECTION);
const deadLetters = () => db.collection(`${collections.PIPELINE_COLLECTION_PREFIX}dead_letters`);
const send = (body: string, options: Partial<Parameters<typeof postSigned>[2]> = {}) => postSigned(stack.webhookUrl, body, { secret: stack.secret, ...options });
const completion = (jobId: string, status: 'success' | 'failure', batchId?: string, call = `c-${jobId}`) =>
  JSON.stringify({ call_id: call, status, ...(status === 'success' ? { result: { affinity: Math.random() } } : { error: { message: 'boom' } }), metadata: { job_id: jobId, ...(batchId ? { batch_id: batchId } : {}) } });
const failedLoops = () => logs.filter((l) => l.entry.event === 'completionFailed').length;

beforeAll(async () => {
  const direct = { pubsub: process.env.PUBSUB_EMULATOR_HOST!, firestore: process.env.FIRESTORE_EMULATOR_HOST! };
  pubsubProxy = await startTcpProxy(direct.pubsub);
  firestoreProxy = await startTcpProxy(direct.firestore);
  stack = await startLocalStack({
    projectId: process.env.GOOGLE_CLOUD_PROJECT!,
    completionsTopic: `f-completions-${run}`,
    batchEventsTopic: `f-batch-events-${run}`,
    maxDeliveryAttempts: 5,
    // A push lost with a killed worker is redelivered after the ack deadline.
    ackDeadlineSeconds: 10,
    // The functions reach the emulators only through the proxies.
    env: { ...collections, PUBSUB_EMULATOR_HOST: pubsubProxy.host, FIRESTORE_EMULATOR_HOST: firestoreProxy.host, PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS), CLAIM_CHECK_THRESHOLD_BYTES: String(1024 * 1024) },
    onLog: (service, line) => {
      try {
        logs.push({ service, entry: JSON.parse(line) as Record<string, unknown> });
      } catch {
        logs.push({ service, entry: { message: line } });
      }
    },
  });
  db = emulatorFirestore();
});

afterAll(async () => {
  await stack?.stop();
  await pubsubProxy?.close();
  await firestoreProxy?.close();
  process.stdout.write(`\nFault suite figures:\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

afterEach(() => sampleMemory());

it('answers 503 within the publish deadline while Pub/Sub is cut, and 202 within 5 s once it is back', async () => {
  expect((await send(completion('warm-1', 'success'))).status).toBe(202);
  pubsubProxy.cut();
  const answers: number[] = [];
  const statuses = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
    const started = Date.now();
    const res = await send(completion(`outage-${i}`, 'success'));
    answers.push(Date.now() - started);
    return res.status;
  }));
  expect(new Set(statuses)).toEqual(new Set([503]));
  expect(Math.max(...answers)).toBeLessThan(PUBLISH_TIMEOUT_MS + 1500);
  pubsubProxy.restore();
  const restored = Date.now();
  let status = 0;
  while (status !== 202 && Date.now() - restored < 15_000) {
    status = (await send(completion('outage-0', 'success'))).status;
    if (status !== 202) await new Promise((r) => setTimeout(r, 100));
  }
  const recovery = Date.now() - restored;
  note(`Pub/Sub cut: 10/10 requests answered 503 in ${Math.min(...answers)}–${Math.max(...answers)} ms (deadline ${PUBLISH_TIMEOUT_MS} ms); first 202 ${recovery} ms after restore`);
  expect(status).toBe(202);
  expect(recovery).toBeLessThan(5000);
});

it('finishes a batch exactly once when the worker is killed mid-batch (SIGKILL) and restarted', async () => {
  const n = 60;
  await batches().doc('kill-batch').set({ total_jobs: n });
  const before = stack.functions.worker.restarts;
  const sending = Promise.all(Array.from({ length: n }, (_, i) => send(completion(`kill-${i}`, 'success', 'kill-batch'))));
  // Killed while completions are in flight: after the first is applied, or after 20 s at the latest.
  await until('first applied', async () => ((await batches().doc('kill-batch').get()).data()?.completed_jobs ?? 0) >= 1 || undefined, 20_000).catch(() => undefined);
  sampleMemory();
  process.kill(-stack.functions.worker.child.pid!, 'SIGKILL');
  expect((await sending).every((r) => r.status === 202)).toBe(true);
  const batch = await until('kill-batch completed', async () => {
    const data = (await batches().doc('kill-batch').get()).data();
    return data?.status === 'completed' ? data : undefined;
  }, 120_000);
  expect(batch).toMatchObject({ completed_jobs: n, summary: { completed_jobs: n, failed_jobs: 0 } });
  expect(batch.failed_jobs ?? 0).toBe(0);
  expect(stack.functions.worker.restarts).toBe(before + 1);
  expect(logs.filter((l) => l.entry.event === 'functionRestarted' && l.entry.target === 'processCompletion')).toHaveLength(1);
  expect(logs.filter((l) => l.entry.event === 'batchCompleted' && l.entry.batch_id === 'kill-batch')).toHaveLength(1);
  note(`worker SIGKILLed mid-batch of ${n}: restarted once, batch completed once with ${batch.completed_jobs}/${n}`);
});

it('applies every acknowledged completion through a Firestore outage, with exact batch counts', async () => {
  await send(JSON.stringify({ call_id: 'reg', status: 'success', metadata: { job_id: 'fs-reg' } }));
  await batches().doc('fs-batch').set({ total_jobs: 20 });
  firestoreProxy.cut();
  const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => send(completion(`fs-${i}`, i % 4 === 0 ? 'failure' : 'success', 'fs-batch'))));
  expect(sent.every((r) => r.status === 202)).toBe(true);
  await new Promise((r) => setTimeout(r, 5000));
  firestoreProxy.restore();
  const restored = Date.now();
  const batch = await until('fs-batch completed', async () => {
    const data = (await batches().doc('fs-batch').get()).data();
    return data?.status === 'completed' ? data : undefined;
  }, 90_000);
  note(`Firestore cut 5 s under 20 completions: all applied, batch completed ${Date.now() - restored} ms after restore (15 completed / 5 failed expected)`);
  expect(batch).toMatchObject({ completed_jobs: 15, failed_jobs: 5, summary: { completed_jobs: 15, failed_jobs: 5 } });
});

it('keeps counts exact under duplicated and reordered deliveries', async () => {
  const n = 30;
  await batches().doc('dup-batch').set({ total_jobs: n });
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    // A third fail first and then succeed on a retried call; every delivery is sent three times.
    if (i % 3 === 0) bodies.push(completion(`dup-${i}`, 'failure', 'dup-batch', `c-dup-${i}`), completion(`dup-${i}`, 'success', 'dup-batch', `c-dup-${i}-retry`));
    else bodies.push(completion(`dup-${i}`, 'success', 'dup-batch'));
  }
  const deliveries = fc.sample(fc.shuffledSubarray([...bodies, ...bodies, ...bodies], { minLength: bodies.length * 3 }), { numRuns: 1, seed: 7 })[0]!;
  const answers = await Promise.all(deliveries.map((b) => send(b)));
  expect(answers.every((r) => r.status === 202)).toBe(true);
  const settled = await until('dup-batch settled', async () => {
    const data = (await batches().doc('dup-batch').get()).data();
    // The summary follows the counters: a late upgrade's own refresh comes right after its commit.
    return data?.status === 'completed' && data.completed_jobs === n && data.summary?.completed_jobs === n ? data : undefined;
  }, 90_000);
  expect(settled).toMatchObject({ completed_jobs: n, failed_jobs: 0, summary: { completed_jobs: n, failed_jobs: 0, success_rate: 1 } });
  note(`${deliveries.length} deliveries (each of ${bodies.length} events 3×, shuffled; 10 failures later upgraded): counts exact ${n}/0, summary matches`);
});

it('for every signed payload it accepts, the worker applies or dead-letters it — never a loop (property)', async () => {
  const loopsBefore = failedLoops();
  // Mostly ids the contract accepts (so most payloads reach the worker), some it must refuse.
  const validChar = fc.constantFrom(...'abcxyzABCXYZ0123456789._@-'.split(''));
  const hostileChar = fc.constantFrom(...'abcXYZ019._@-:/ é\u0000'.split(''));
  const id = fc.oneof(
    { weight: 12, arbitrary: fc.tuple(fc.constantFrom('a', 'B', '7'), fc.string({ unit: validChar, maxLength: 40 })).map(([h, t]) => `${h}${t}z`) },
    { weight: 1, arbitrary: fc.string({ unit: validChar, minLength: 120, maxLength: 260 }).map((t) => `a${t}`) },
    { weight: 1, arbitrary: fc.string({ unit: hostileChar, maxLength: 12 }) },
  );
  const anyJson = fc.jsonValue({ maxDepth: 8 });
  const payload = fc.record({
    call_id: id,
    status: fc.constantFrom('success', 'success', 'failure', 'timeout', 'function.success', 'exploded'),
    result: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), anyJson, { maxKeys: 4 }).map((r) => ({ affinity: 0.5, ...r })), { nil: undefined }),
    error: fc.option(fc.oneof(fc.string({ maxLength: 30 }), fc.dictionary(fc.string({ maxLength: 4 }), anyJson, { maxKeys: 3 })), { nil: undefined }),
    metadata: fc.record({ job_id: id, batch_id: fc.option(id, { nil: undefined }) }),
  });
  const samples = fc.sample(payload, { numRuns: 150, seed: 4242 });
  // A few that need the claim check or hit Firestore's limits head-on.
  samples.push(
    { call_id: 'c-tb22', status: 'failure', result: undefined, error: { message: 'oom', traceback: 'T'.repeat(22 * 1024 * 1024) }, metadata: { job_id: 'fz-tb22', batch_id: undefined } },
    { call_id: 'c-pose', status: 'success', result: { affinity: 0.7, pose: [[1, 2, 3]] } as never, error: undefined, metadata: { job_id: 'fz-pose', batch_id: undefined } },
  );
  const outcome = { accepted: 0, rejected4xx: 0, fivexx: 0, applied: 0, deadLettered: 0 };
  const accepted: Array<{ jobId: string; deliveryId: string }> = [];
  for (const p of samples) {
    const body = JSON.stringify(p);
    const res = await send(body);
    sampleMemory();
    if (res.status === 202) {
      outcome.accepted++;
      accepted.push({ jobId: (p.metadata as { job_id: string }).job_id, deliveryId: res.json.delivery_id });
    } else if (res.status >= 500) outcome.fivexx++;
    else {
      outcome.rejected4xx++;
      // A rejection has no side effect: no job document for an id that is a valid document path.
      const jobId = (p.metadata as { job_id: string }).job_id;
      if (/^[A-Za-z0-9._@-]{1,100}$/.test(jobId) && !/^\.+$/.test(jobId) && !accepted.some((a) => a.jobId === jobId)) {
        expect((await jobs().doc(jobId).get()).exists).toBe(false);
      }
    }
  }
  expect(outcome.fivexx).toBe(0);
  for (const a of accepted) {
    const verdict = await until(`delivery ${a.deliveryId} applied or dead-lettered`, async () => {
      const job = (await jobs().doc(a.jobId).get()).data();
      const history = [job?.delivery_id, ...((job?.late_events as Array<{ delivery_id?: string }> | undefined) ?? []).map((e) => e.delivery_id)];
      if (history.includes(a.deliveryId)) return 'applied';
      const dead = await deadLetters().where('attributes.delivery_id', '==', a.deliveryId).limit(1).get();
      return dead.empty ? undefined : 'dead_lettered';
    }, 60_000);
    if (verdict === 'applied') outcome.applied++;
    else outcome.deadLettered++;
  }
  sampleMemory();
  // Unsigned or wrongly signed variants of the same bodies: never 2xx, never 5xx.
  const unsigned = await Promise.all(samples.slice(0, 40).map((p, i) => send(JSON.stringify(p), i % 2 ? { signature: sign('not-the-secret', JSON.stringify(p)) } : { headers: { 'x-modal-signature': '' } })));
  expect(unsigned.filter((r) => r.status < 300 || r.status >= 500)).toEqual([]);
  expect(outcome.applied + outcome.deadLettered).toBe(outcome.accepted);
  expect(failedLoops()).toBe(loopsBefore);
  note(`fuzz: ${samples.length} signed payloads → ${outcome.accepted} accepted (${outcome.applied} applied, ${outcome.deadLettered} dead-lettered), ${outcome.rejected4xx} rejected 4xx, ${outcome.fivexx} 5xx; ${unsigned.length} unsigned → 0 accepted; 0 redelivery loops`);
});

it('keeps worker and webhook under 512 MiB through the whole suite', () => {
  sampleMemory();
  note(`peak RSS (VmHWM): webhook ${peak.webhook.toFixed(0)} MiB, worker ${peak.worker.toFixed(0)} MiB`);
  expect(peak.webhook).toBeGreaterThan(0);
  expect(peak.worker).toBeGreaterThan(0);
  expect(peak.webhook).toBeLessThan(512);
  expect(peak.worker).toBeLessThan(512);
});
