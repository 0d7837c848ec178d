/**
 * The fault suite (`npm run test:faults`, also part of `npm test`): ONE local stack as `npm start`
 * runs it — functions and push relay alike reach the emulators through TCP proxies that can be cut —
 * taken through faults in sequence, as a real stack lives: a Pub/Sub reset, a worker killed
 * mid-batch, a Firestore cut, a worker hung for 10 s, a duplicate/reorder storm, a fuzz burst, and a
 * flood of worst-case unsigned requests. After every phase, every completion acknowledged so far
 * (the ledger of 202s) must be applied or visibly dead-lettered — nothing in limbo — and batch counts
 * exact. It prints its figures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import fc from 'fast-check';
import { brotliCompressSync, constants as zlib } from 'node:zlib';
import { startLocalStack, type LocalStack } from '../../scripts/local/local-stack';
import { sign } from '../../shared/contract/signature';
import { postRaw, postSigned, rawRequest, requestHead } from '../support/http';
import { until, untilLogged } from '../support/until';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { emulatorFirestore } from '../support/worker';

jest.setTimeout(300_000);

const run = randomBytes(3).toString('hex');
const collections = {
  JOBS_COLLECTION: `f_jobs_${run}`,
  BATCHES_COLLECTION: `f_batches_${run}`,
  PIPELINE_COLLECTION_PREFIX: `f${run}_`,
};
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
const executions = () => db.collection(`${collections.PIPELINE_COLLECTION_PREFIX}executions`);
const deadLetters = () => db.collection(`${collections.PIPELINE_COLLECTION_PREFIX}dead_letters`);
const send = (body: string, options: Partial<Parameters<typeof postSigned>[2]> = {}) =>
  postSigned(stack.webhookUrl, body, { secret: stack.secret, ...options });
const completion = (jobId: string, status: 'success' | 'failure', batchId?: string, call = `c-${jobId}`) =>
  JSON.stringify({
    call_id: call,
    status,
    ...(status === 'success' ? { result: { affinity: Math.random() } } : { error: { message: 'boom' } }),
    metadata: { job_id: jobId, ...(batchId ? { batch_id: batchId } : {}) },
  });
const failedLoops = () => logs.filter((l) => l.entry.event === 'completionFailed').length;

/** Every 202 so far: the delivery it promised, and whether it has been seen applied or dead-lettered. */
interface Acknowledged {
  jobId: string;
  callId: string;
  jobStatus: string;
  settled?: 'applied' | 'dead_lettered';
}
const JOB_STATUS: Record<string, string> = { success: 'completed', failure: 'failed', timeout: 'timeout' };
const ledger = new Map<string, Acknowledged>();
const sendAndRecord = async (body: string) => {
  const res = await send(body);
  if (res.status === 202) {
    const p = JSON.parse(body) as { call_id: string; status: string; metadata: { job_id: string } };
    ledger.set(res.json.delivery_id, {
      jobId: p.metadata.job_id,
      callId: p.call_id,
      jobStatus: JOB_STATUS[p.status.replace(/^function\./, '')] ?? '?',
    });
  }
  return res;
};

const storable = (id: string) => /^[A-Za-z0-9._@-]{1,128}$/.test(id) && !/^\.+$/.test(id);

/**
 * Where a delivery ended: in its job's history (current delivery or a late event), in its call's
 * execution record (a failure since upgraded by a retried call's success), or in the dead letters
 * (the worker's or the topic's).
 */
async function settledAs(deliveryId: string, entry: Acknowledged): Promise<'applied' | 'dead_lettered' | undefined> {
  const job = storable(entry.jobId) ? (await jobs().doc(entry.jobId).get()).data() : undefined;
  const history = [
    job?.delivery_id,
    ...((job?.late_events as Array<{ delivery_id?: string }> | undefined) ?? []).map((e) => e.delivery_id),
  ];
  if (history.includes(deliveryId)) return 'applied';
  const execution = storable(entry.callId) ? (await executions().doc(entry.callId).get()).data() : undefined;
  if (execution?.job_id === entry.jobId && execution.status === entry.jobStatus) return 'applied';
  const dead = await deadLetters().where('attributes.delivery_id', '==', deliveryId).limit(1).get();
  if (!dead.empty) return 'dead_lettered';
  return topicDeadLetters.has(deliveryId) ? 'dead_lettered' : undefined;
}

/** Delivery ids that reached the dead-letter topic (the relay says so when it hands over the last attempt). */
const topicDeadLetters = new Set<string>();

/** Nothing in limbo: every acknowledged completion so far is applied or dead-lettered (within `timeoutMs`). */
async function expectNothingInLimbo(phase: string, timeoutMs = 90_000): Promise<void> {
  const started = Date.now();
  for (const l of logs)
    if (l.entry.event === 'pushDeadLettered' && typeof l.entry.delivery_id === 'string')
      topicDeadLetters.add(l.entry.delivery_id);
  const open = () => [...ledger].filter(([, v]) => !v.settled);
  while (open().length > 0) {
    for (const [deliveryId, entry] of open()) entry.settled = await settledAs(deliveryId, entry);
    if (open().length === 0) break;
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `${phase}: ${open().length} of ${ledger.size} acknowledged completions neither applied nor dead-lettered after ${timeoutMs} ms: ${open()
          .slice(0, 5)
          .map(([d, v]) => `${v.jobId}/${d}`)
          .join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const dead = [...ledger.values()].filter((v) => v.settled === 'dead_lettered').length;
  note(
    `  after ${phase}: ${ledger.size} acknowledged so far → ${ledger.size - dead} applied, ${dead} dead-lettered, 0 in limbo (checked in ${Date.now() - started} ms)`,
  );
}

beforeAll(async () => {
  const direct = { pubsub: process.env.PUBSUB_EMULATOR_HOST!, firestore: process.env.FIRESTORE_EMULATOR_HOST! };
  pubsubProxy = await startTcpProxy(direct.pubsub);
  firestoreProxy = await startTcpProxy(direct.firestore);
  stack = await startLocalStack({
    projectId: process.env.GOOGLE_CLOUD_PROJECT!,
    completionsTopic: `f-completions-${run}`,
    batchEventsTopic: `f-batch-events-${run}`,
    maxDeliveryAttempts: 10,
    // A push lost with a killed worker is redelivered after the ack deadline.
    ackDeadlineSeconds: 10,
    // The functions reach the emulators only through the proxies.
    env: {
      ...collections,
      PUBSUB_EMULATOR_HOST: pubsubProxy.host,
      FIRESTORE_EMULATOR_HOST: firestoreProxy.host,
      PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
      CLAIM_CHECK_THRESHOLD_BYTES: String(1024 * 1024),
    },
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

/**
 * A completion of ~300 KB with a structure of its own (its bytes derived from its job id) and an
 * affinity of its own, so that a job holding another request's bytes would show.
 */
const largeCompletion = (jobId: string, affinity: number) =>
  JSON.stringify({
    call_id: `c-${jobId}`,
    status: 'success',
    result: {
      affinity,
      // Hex digits are base64 characters too: a valid, unpadded base64 string of ~300 KB.
      structure_file_base64: createHash('sha512').update(jobId).digest('hex').repeat(2400),
    },
    metadata: { job_id: jobId },
  });

it('answers 503 within the publish deadline while Pub/Sub is cut, and 202 within 5 s once it is back; no body reaches another', async () => {
  expect((await sendAndRecord(completion('warm-1', 'success'))).status).toBe(202);
  await expectNothingInLimbo('warm-up');
  pubsubProxy.cut();
  const answers: number[] = [];
  try {
    // Large bodies: the publishes that time out still hold theirs when the next requests come.
    const statuses = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const started = Date.now();
        const res = await send(largeCompletion(`outage-${i}`, i / 10));
        answers.push(Date.now() - started);
        return res.status;
      }),
    );
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect(Math.max(...answers)).toBeLessThan(PUBLISH_TIMEOUT_MS + 1500);
  } finally {
    // Whatever happened, the next tests need Pub/Sub back.
    pubsubProxy.restore();
  }
  const restored = Date.now();
  let status = 0;
  while (status !== 202 && Date.now() - restored < 15_000) {
    status = (await sendAndRecord(largeCompletion('outage-0', 0))).status;
    if (status !== 202) await new Promise((r) => setTimeout(r, 100));
  }
  const recovery = Date.now() - restored;
  // What Modal does next: it retries the ten that were answered 503.
  const resent = await Promise.all(
    Array.from({ length: 10 }, (_, i) => sendAndRecord(largeCompletion(`outage-${i}`, i / 10))),
  );
  expect(resent.map((r) => r.status)).toEqual(Array(10).fill(202));
  await expectNothingInLimbo('the Pub/Sub reset');
  // Each job holds its own body: its affinity, and no message arrived with another request's bytes.
  for (let i = 0; i < 10; i++) {
    const job = (await jobs().doc(`outage-${i}`).get()).data();
    expect(job).toMatchObject({ status: 'completed', modal_call_id: `c-outage-${i}`, result: { affinity: i / 10 } });
  }
  const mismatched = await deadLetters().where('code', 'in', ['invalid_envelope', 'invalid_json']).get();
  expect(mismatched.docs.map((d) => d.get('attributes.delivery_id') as string)).toEqual([]);
  note(
    `Pub/Sub cut: 10/10 large requests answered 503 in ${Math.min(...answers)}–${Math.max(...answers)} ms (deadline ${PUBLISH_TIMEOUT_MS} ms); first 202 ${recovery} ms after restore; every job holds its own body`,
  );
  expect(status).toBe(202);
  expect(recovery).toBeLessThan(5000);
});

it('finishes a batch exactly once when the worker is killed mid-batch (SIGKILL) and restarted', async () => {
  const n = 60;
  await batches().doc('kill-batch').set({ total_jobs: n });
  const before = stack.functions.worker.restarts;
  const sending = Promise.all(
    Array.from({ length: n }, (_, i) => sendAndRecord(completion(`kill-${i}`, 'success', 'kill-batch'))),
  );
  // Killed while completions are in flight: after the first is applied, or after 20 s at the latest.
  await until(
    'first applied',
    async () => ((await batches().doc('kill-batch').get()).data()?.completed_jobs ?? 0) >= 1 || undefined,
    20_000,
  ).catch(() => undefined);
  sampleMemory();
  process.kill(-stack.functions.worker.child.pid!, 'SIGKILL');
  expect((await sending).every((r) => r.status === 202)).toBe(true);
  const batch = await until(
    'kill-batch completed',
    async () => {
      const data = (await batches().doc('kill-batch').get()).data();
      return data?.status === 'completed' ? data : undefined;
    },
    120_000,
  );
  expect(batch).toMatchObject({ completed_jobs: n, summary: { completed_jobs: n, failed_jobs: 0 } });
  expect(batch.failed_jobs ?? 0).toBe(0);
  expect(stack.functions.worker.restarts).toBe(before + 1);
  expect(
    await untilLogged(
      'functionRestarted',
      logs,
      (l) => l.entry.event === 'functionRestarted' && l.entry.target === 'processCompletion',
    ),
  ).toHaveLength(1);
  expect(
    await untilLogged(
      'batchCompleted kill-batch',
      logs,
      (l) => l.entry.event === 'batchCompleted' && l.entry.batch_id === 'kill-batch',
    ),
  ).toHaveLength(1);
  note(`worker SIGKILLed mid-batch of ${n}: restarted once, batch completed once with ${batch.completed_jobs}/${n}`);
  await expectNothingInLimbo('the worker kill');
});

it('applies every acknowledged completion through a Firestore outage, with exact batch counts', async () => {
  await sendAndRecord(JSON.stringify({ call_id: 'reg', status: 'success', metadata: { job_id: 'fs-reg' } }));
  await batches().doc('fs-batch').set({ total_jobs: 20 });
  firestoreProxy.cut();
  const sent = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      sendAndRecord(completion(`fs-${i}`, i % 4 === 0 ? 'failure' : 'success', 'fs-batch')),
    ),
  );
  expect(sent.every((r) => r.status === 202)).toBe(true);
  await new Promise((r) => setTimeout(r, 5000));
  firestoreProxy.restore();
  const restored = Date.now();
  const batch = await until(
    'fs-batch completed',
    async () => {
      const data = (await batches().doc('fs-batch').get()).data();
      return data?.status === 'completed' ? data : undefined;
    },
    90_000,
  );
  note(
    `Firestore cut 5 s under 20 completions: all applied, batch completed ${Date.now() - restored} ms after restore (15 completed / 5 failed expected)`,
  );
  expect(batch).toMatchObject({ completed_jobs: 15, failed_jobs: 5, summary: { completed_jobs: 15, failed_jobs: 5 } });
  await expectNothingInLimbo('the Firestore cut');
});

it('dead-letters nothing when the worker hangs for 10 s: deliveries back off and arrive once it answers', async () => {
  const n = 20;
  await batches().doc('hang-batch').set({ total_jobs: n });
  const worker = stack.functions.worker.child.pid!;
  process.kill(-worker, 'SIGSTOP');
  const stopped = Date.now();
  let sent: Awaited<ReturnType<typeof send>>[];
  try {
    sent = await Promise.all(
      Array.from({ length: n }, (_, i) => sendAndRecord(completion(`hang-${i}`, 'success', 'hang-batch'))),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - stopped))));
  } finally {
    process.kill(-worker, 'SIGCONT');
  }
  expect(sent.every((r) => r.status === 202)).toBe(true);
  const resumed = Date.now();
  const batch = await until(
    'hang-batch completed',
    async () => {
      const data = (await batches().doc('hang-batch').get()).data();
      return data?.status === 'completed' ? data : undefined;
    },
    120_000,
  );
  expect(batch).toMatchObject({ completed_jobs: n, failed_jobs: 0 });
  expect(logs.filter((l) => l.entry.event === 'pushDeadLettered')).toEqual([]);
  note(
    `worker hung (SIGSTOP) 10 s under ${n} completions: 0 dead-lettered, batch completed ${Date.now() - resumed} ms after it resumed (relay: ${stack.relay.stats.handedBack} handed back so far)`,
  );
  await expectNothingInLimbo('the 10 s worker hang');
});

it('keeps counts exact under duplicated and reordered deliveries', async () => {
  const n = 30;
  await batches().doc('dup-batch').set({ total_jobs: n });
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    // A third fail first and then succeed on a retried call; every delivery is sent three times.
    if (i % 3 === 0)
      bodies.push(
        completion(`dup-${i}`, 'failure', 'dup-batch', `c-dup-${i}`),
        completion(`dup-${i}`, 'success', 'dup-batch', `c-dup-${i}-retry`),
      );
    else bodies.push(completion(`dup-${i}`, 'success', 'dup-batch'));
  }
  const deliveries = fc.sample(
    fc.shuffledSubarray([...bodies, ...bodies, ...bodies], { minLength: bodies.length * 3 }),
    { numRuns: 1, seed: 7 },
  )[0]!;
  const answers = await Promise.all(deliveries.map((b) => sendAndRecord(b)));
  expect(answers.every((r) => r.status === 202)).toBe(true);
  const settled = await until(
    'dup-batch settled',
    async () => {
      const data = (await batches().doc('dup-batch').get()).data();
      // The summary follows the counters: a late upgrade's own refresh comes right after its commit.
      return data?.status === 'completed' && data.completed_jobs === n && data.summary?.completed_jobs === n
        ? data
        : undefined;
    },
    90_000,
  );
  expect(settled).toMatchObject({
    completed_jobs: n,
    failed_jobs: 0,
    summary: { completed_jobs: n, failed_jobs: 0, success_rate: 1 },
  });
  note(
    `${deliveries.length} deliveries (each of ${bodies.length} events 3×, shuffled; 10 failures later upgraded): counts exact ${n}/0, summary matches`,
  );
  await expectNothingInLimbo('the duplicate storm');
});

it('for every signed payload it accepts, the worker applies or dead-letters it — never a loop (property)', async () => {
  const loopsBefore = failedLoops();
  // Mostly ids the contract accepts (so most payloads reach the worker), some it must refuse.
  const validChar = fc.constantFrom(...'abcxyzABCXYZ0123456789._@-'.split(''));
  const hostileChar = fc.constantFrom(...'abcXYZ019._@-:/ é\u0000'.split(''));
  const id = fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .tuple(fc.constantFrom('a', 'B', '7'), fc.string({ unit: validChar, maxLength: 40 }))
        .map(([h, t]) => `${h}${t}z`),
    },
    { weight: 1, arbitrary: fc.string({ unit: validChar, minLength: 120, maxLength: 260 }).map((t) => `a${t}`) },
    { weight: 1, arbitrary: fc.string({ unit: hostileChar, maxLength: 12 }) },
  );
  const anyJson = fc.jsonValue({ maxDepth: 8 });
  const payload = fc.record({
    call_id: id,
    status: fc.constantFrom('success', 'success', 'failure', 'timeout', 'function.success', 'exploded'),
    result: fc.option(
      fc.dictionary(fc.string({ maxLength: 4 }), anyJson, { maxKeys: 4 }).map((r) => ({ affinity: 0.5, ...r })),
      { nil: undefined },
    ),
    error: fc.option(
      fc.oneof(fc.string({ maxLength: 30 }), fc.dictionary(fc.string({ maxLength: 4 }), anyJson, { maxKeys: 3 })),
      { nil: undefined },
    ),
    metadata: fc.record({ job_id: id, batch_id: fc.option(id, { nil: undefined }) }),
  });
  const samples = fc.sample(payload, { numRuns: 150, seed: 4242 });
  // A few that need the claim check or hit Firestore's limits head-on.
  samples.push(
    {
      call_id: 'c-tb22',
      status: 'failure',
      result: undefined,
      error: { message: 'oom', traceback: 'T'.repeat(22 * 1024 * 1024) },
      metadata: { job_id: 'fz-tb22', batch_id: undefined },
    },
    {
      call_id: 'c-pose',
      status: 'success',
      result: { affinity: 0.7, pose: [[1, 2, 3]] } as never,
      error: undefined,
      metadata: { job_id: 'fz-pose', batch_id: undefined },
    },
  );
  const outcome = { accepted: 0, rejected4xx: 0, fivexx: 0, applied: 0, deadLettered: 0 };
  const accepted: Array<{ jobId: string; deliveryId: string }> = [];
  for (const p of samples) {
    const body = JSON.stringify(p);
    const res = await sendAndRecord(body);
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
    const verdict = await until(
      `delivery ${a.deliveryId} applied or dead-lettered`,
      async () => {
        const job = (await jobs().doc(a.jobId).get()).data();
        const history = [
          job?.delivery_id,
          ...((job?.late_events as Array<{ delivery_id?: string }> | undefined) ?? []).map((e) => e.delivery_id),
        ];
        if (history.includes(a.deliveryId)) return 'applied';
        const dead = await deadLetters().where('attributes.delivery_id', '==', a.deliveryId).limit(1).get();
        return dead.empty ? undefined : 'dead_lettered';
      },
      60_000,
    );
    if (verdict === 'applied') outcome.applied++;
    else outcome.deadLettered++;
  }
  sampleMemory();
  // Unsigned or wrongly signed variants of the same bodies: never 2xx, never 5xx.
  const unsigned = await Promise.all(
    samples
      .slice(0, 40)
      .map((p, i) =>
        send(
          JSON.stringify(p),
          i % 2 ? { signature: sign('not-the-secret', JSON.stringify(p)) } : { headers: { 'x-modal-signature': '' } },
        ),
      ),
  );
  expect(unsigned.filter((r) => r.status < 300 || r.status >= 500)).toEqual([]);
  expect(outcome.applied + outcome.deadLettered).toBe(outcome.accepted);
  expect(failedLoops()).toBe(loopsBefore);
  await expectNothingInLimbo('the fuzz burst');
  note(
    `fuzz: ${samples.length} signed payloads → ${outcome.accepted} accepted (${outcome.applied} applied, ${outcome.deadLettered} dead-lettered), ${outcome.rejected4xx} rejected 4xx, ${outcome.fivexx} 5xx; ${unsigned.length} unsigned → 0 accepted; 0 redelivery loops`,
  );
});

/** One raw request to the webhook (status 0: the connection was cut before an answer). */
const raw = async (headers: Record<string, string | number>, body: Parameters<typeof postRaw>[2]) =>
  (await postRaw(`${stack.webhookUrl}/api/v3/webhooks/modal/completion`, headers, body)).status;

it('under a flood of worst-case unsigned requests, signed completions are all accepted and applied, and the webhook stays small', async () => {
  const forged = () => ({
    'content-type': 'application/json',
    'x-modal-signature': `sha256=${'a'.repeat(64)}`,
    'x-modal-timestamp': String(Math.floor(Date.now() / 1000)),
  });
  const brotliBomb = brotliCompressSync(Buffer.alloc(400 * 1024 * 1024, 0x20), {
    params: { [zlib.BROTLI_PARAM_QUALITY]: 1 },
  });
  const tinyObjects = Buffer.from(`{"a":[${'{},'.repeat(10_000_000)}{}]}`);
  const webhookPort = Number(new URL(stack.webhookUrl).port);
  const oneByteChunks = Buffer.from('1\r\nx\r\n'.repeat(150_000));
  const oneByteChunksHead = () => requestHead({ ...forged(), 'transfer-encoding': 'chunked' });
  const attacks: Array<[string, () => Promise<number>]> = [
    [
      'brotli bomb (76 KB → 400 MiB)',
      () => raw({ ...forged(), 'content-encoding': 'br', 'content-length': brotliBomb.length }, brotliBomb),
    ],
    ['1 GiB Content-Length', () => raw({ ...forged(), 'content-length': 1024 ** 3 }, Buffer.alloc(0))],
    [
      '40 MiB chunked stream',
      () => raw({ ...forged(), 'transfer-encoding': 'chunked' }, { chunks: 640, chunk: Buffer.alloc(64 * 1024, 0x20) }),
    ],
    [
      '30 MB of tiny objects, forged signature',
      () => raw({ ...forged(), 'content-length': tinyObjects.length }, tinyObjects),
    ],
    [
      '150,000 one-byte chunks, never finished',
      () => rawRequest(webhookPort, oneByteChunksHead(), oneByteChunks).then((a) => a.status),
    ],
  ];
  const restartsBefore = stack.functions.webhook.restarts;
  const answered: Record<string, Record<number, number>> = {};
  let flooding = true;
  let floodRequests = 0;
  const attackers = Array.from({ length: 12 }, async (_, i) => {
    const [name, attack] = attacks[i % attacks.length]!;
    while (flooding) {
      const status = await attack();
      floodRequests++;
      answered[name] = { ...answered[name], [status]: (answered[name]?.[status] ?? 0) + 1 };
    }
  });
  const sampler = setInterval(sampleMemory, 100);
  const n = 40;
  await batches().doc('flood-batch').set({ total_jobs: n });
  const floodStarted = Date.now();
  let legit: Array<{ status: number }> = [];
  try {
    await new Promise((r) => setTimeout(r, 1000));
    legit = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 100));
        return sendAndRecord(completion(`flood-${i}`, i % 5 === 0 ? 'failure' : 'success', 'flood-batch'));
      }),
    );
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    flooding = false;
    await Promise.all(attackers);
    clearInterval(sampler);
  }
  const seconds = (Date.now() - floodStarted) / 1000;
  expect(legit.map((r) => r.status)).toEqual(Array(n).fill(202));
  const batch = await until(
    'flood-batch completed',
    async () => {
      const data = (await batches().doc('flood-batch').get()).data();
      return data?.status === 'completed' ? data : undefined;
    },
    90_000,
  );
  expect(batch).toMatchObject({ completed_jobs: 32, failed_jobs: 8 });
  expect(stack.functions.webhook.restarts).toBe(restartsBefore);
  // Every attack was refused with a status it could read: never a 2xx, never a dropped connection, never a crash.
  for (const counts of Object.values(answered)) expect(Object.keys(counts).filter((s) => Number(s) < 300)).toEqual([]);
  expect(peak.webhook).toBeLessThan(512);
  const summary = Object.entries(answered)
    .map(
      ([name, counts]) =>
        `${name}: ${Object.entries(counts)
          .map(([s, c]) => `${c}×${s === '0' ? 'cut' : s}`)
          .join(' ')}`,
    )
    .join('; ');
  note(
    `flood: ${floodRequests} unsigned worst-case requests in ${seconds.toFixed(1)} s from 12 connections (${summary}); ${n}/${n} signed completions sent meanwhile → 202 and applied (32/8 exact), webhook restarts 0, webhook peak RSS ${peak.webhook.toFixed(0)} MiB`,
  );
  await expectNothingInLimbo('the flood');
});

/** A signed 4.9 MiB completion of its own, claim-checked by this suite's 1 MiB threshold. */
function hugeCompletion(jobId: string): { head: string; body: Buffer } {
  const text = JSON.stringify({
    call_id: `c-${jobId}`,
    status: 'success',
    result: { affinity: 0.5, structure_file_base64: createHash('sha256').update(jobId).digest('hex').repeat(80_000) },
    metadata: { job_id: jobId },
  });
  const head = requestHead({
    'content-type': 'application/json',
    'x-modal-signature': sign(stack.secret, text),
    'x-modal-timestamp': String(Math.floor(Date.now() / 1000)),
    'content-length': Buffer.byteLength(text),
  });
  return { head, body: Buffer.from(text) };
}

it('answers every attempt of 48 signed 4.9 MiB completions sent at once with a status, five rounds, slow links included', async () => {
  const webhookPort = Number(new URL(stack.webhookUrl).port);
  const tally: Record<string, number> = {};
  for (let round = 0; round < 5; round++) {
    await Promise.all(
      Array.from({ length: 48 }, async (_, i) => {
        // The first round sends half of them over a slow link (320 KiB/s: ~16 s a body).
        const slow = round === 0 && i % 2 === 0;
        for (let attempt = 0; attempt < 30; attempt++) {
          const { head, body } = hugeCompletion(`huge-${round}-${i}`);
          // As a one-thread sender does: the whole body is written before the answer is read.
          const answer = await rawRequest(webhookPort, head, body, {
            readAfterWriting: true,
            ...(slow ? { bytesPerSecond: 320 * 1024 } : {}),
          });
          tally[answer.status] = (tally[answer.status] ?? 0) + 1;
          if (answer.status === 202) {
            const accepted = JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as {
              delivery_id: string;
            };
            ledger.set(accepted.delivery_id, {
              jobId: `huge-${round}-${i}`,
              callId: `c-huge-${round}-${i}`,
              jobStatus: 'completed',
            });
            return;
          }
          if (answer.status !== 503) return;
          await new Promise((r) => setTimeout(r, 2000)); // its Retry-After
        }
      }),
    );
  }
  note(
    `48 signed 4.9 MiB completions at once, 5 rounds (the first with 24 over a 320 KiB/s link): ${Object.entries(tally)
      .map(([s, c]) => `${c}×${s === '0' ? 'dropped' : s}`)
      .join(' ')}`,
  );
  expect(Object.keys(tally).filter((s) => s !== '202' && s !== '503')).toEqual([]);
  expect(tally['202']).toBe(5 * 48);
  await expectNothingInLimbo('48 large completions at once, five times');
});

it('makes a replayed signed request cost nothing: no second publish, no second claim object', async () => {
  // A body over the suite's 1 MiB claim-check threshold, captured and resent with fresh timestamps.
  const body = JSON.stringify({
    call_id: 'c-replayed',
    status: 'success',
    result: { affinity: 0.3, log: 'L'.repeat(1_200_000) },
    metadata: { job_id: 'replayed' },
  });
  const first = await sendAndRecord(body);
  expect(first.status).toBe(202);
  const replays = await Promise.all([1, 2, 3].map((i) => send(body, { timestamp: Math.floor(Date.now() / 1000) + i })));
  expect(replays.map((r) => [r.status, r.json.message_id, r.json.replay])).toEqual(
    [1, 2, 3].map(() => [202, first.json.message_id, true]),
  );
  const claims = readdirSync(join(stack.resultsDir, 'claims', first.json.delivery_id));
  expect(claims).toHaveLength(1);
  expect(
    await untilLogged(
      'webhookReplayed ×3',
      logs,
      (l) => l.entry.event === 'webhookReplayed' && l.entry.delivery_id === first.json.delivery_id,
      3,
    ),
  ).toHaveLength(3);
  note(
    `replay: 1 signed 1.2 MB request resent 3× with fresh timestamps → 3×202 with the first message id, 0 publishes, 1 claim object`,
  );
  await expectNothingInLimbo('the replays');
});

it('keeps worker and webhook under 512 MiB through the whole suite', () => {
  sampleMemory();
  note(`peak RSS (VmHWM): webhook ${peak.webhook.toFixed(0)} MiB, worker ${peak.worker.toFixed(0)} MiB`);
  expect(peak.webhook).toBeGreaterThan(0);
  expect(peak.worker).toBeGreaterThan(0);
  expect(peak.webhook).toBeLessThan(512);
  expect(peak.worker).toBeLessThan(512);
});
