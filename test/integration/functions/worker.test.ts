/**
 * The completion worker on the real Firestore emulator: job state, result files, idempotency,
 * monotonic status, batch counting and finalisation, dead letters.
 */
import { claimPath } from '../../../shared/contract/claims';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Timestamp } from '@google-cloud/firestore';
import { failurePayload, fixture, successPayload } from '../../support/fixtures';
import { completionMessage, testWorker } from '../../support/worker';
import type { PubSubMessage } from '../../../functions/worker/handler';

jest.setTimeout(120_000);

describe('processCompletion on the Firestore emulator', () => {
  const w = testWorker();

  async function job(id: string) {
    return (await w.jobs.doc(id).get()).data();
  }

  it('completes a job: status, scores, ids, timestamps, latency, and its files stored before', async () => {
    await w.jobs.doc('job-abc123').set({ status: 'running', user_id: 'user-7', created_by: 'backend' });
    const outcome = await w.handleMessage(completionMessage(fixture('seed-success')));
    expect(outcome).toMatchObject({ kind: 'applied', jobId: 'job-abc123' });
    const doc = (await job('job-abc123'))!;
    expect(doc).toMatchObject({
      status: 'completed',
      modal_call_id: 'call-123456789',
      batch_id: 'batch-xyz789',
      result: {
        affinity: 0.6385,
        confidence: 0.5071,
        ptm_score: 0.5423,
        iptm_score: 0.8717,
        plddt_score: 0.4159,
        execution_time: 205.3,
      },
      error: null,
      user_id: 'user-7',
      created_by: 'backend',
    });
    for (const field of ['webhook_received_at', 'completed_at', 'updated_at'])
      expect(doc[field]).toBeInstanceOf(Timestamp);
    expect(doc.processing_latency_ms).toBeGreaterThanOrEqual(0);
    expect(doc.result).not.toHaveProperty('structure_file_base64');
    expect(doc.structure_uri).toMatch(/jobs\/job-abc123\/call-123456789\/structure\.cif$/);
    const structure = readFileSync(fileURLToPath(doc.structure_uri)).toString();
    expect(structure.startsWith('data_boltz2_prediction')).toBe(true);
    const resultJson = JSON.parse(readFileSync(fileURLToPath(doc.result_uri)).toString());
    expect(resultJson).toMatchObject({
      job_id: 'job-abc123',
      modal_call_id: 'call-123456789',
      scores: { affinity: 0.6385 },
      structure_format: 'cif',
    });
    expect(w.logger.lines.find((l) => l.event === 'completionApplied')).toMatchObject({
      job_id: 'job-abc123',
      call_id: 'call-123456789',
    });
  });

  it('stores a large structure file byte for byte, decoded straight from the message', async () => {
    // An mmCIF of ~1 MB: its format told by its first line, its bytes all distinct enough to catch a slip.
    const cif = Buffer.concat([
      Buffer.from('data_large_prediction\n'),
      Buffer.from(Array.from({ length: 1_000_000 }, (_, i) => 32 + ((i * 7919) % 95))),
    ]);
    const payload = successPayload({ call_id: 'call-large', job_id: 'job-large' });
    payload.result!.structure_file_base64 = cif.toString('base64');
    expect((await w.handleMessage(completionMessage(payload))).kind).toBe('applied');
    const doc = (await job('job-large'))!;
    expect(doc.structure_uri).toMatch(/jobs\/job-large\/call-large\/structure\.cif$/);
    expect(readFileSync(fileURLToPath(doc.structure_uri)).equals(cif)).toBe(true);
  });

  it('changes nothing when the same completion arrives again (redelivery, Modal retry)', async () => {
    const before = await job('job-abc123');
    const batchBefore = (await w.batches.doc('batch-xyz789').get()).data();
    const outcome = await w.handleMessage(completionMessage(fixture('seed-success')));
    expect(outcome.kind).toBe('duplicate');
    expect(await job('job-abc123')).toEqual(before);
    expect((await w.batches.doc('batch-xyz789').get()).data()).toEqual(batchBefore);
  });

  it('records a late failure after completed without applying it', async () => {
    const late = failurePayload({ call_id: 'call-late', job_id: 'job-abc123', batch_id: 'batch-xyz789' });
    expect((await w.handleMessage(completionMessage(late))).kind).toBe('late');
    expect((await w.handleMessage(completionMessage(late))).kind).toBe('duplicate');
    const doc = (await job('job-abc123'))!;
    expect(doc.status).toBe('completed');
    expect(doc.late_events).toHaveLength(1);
    expect(doc.late_events[0]).toMatchObject({ modal_call_id: 'call-late', status: 'failed' });
    expect((await w.batches.doc('batch-xyz789').get()).data()).toMatchObject({ completed_jobs: 1 });
    expect((await w.batches.doc('batch-xyz789').get()).data()?.failed_jobs ?? 0).toBe(0);
  });

  it('records failures and timeouts with their error', async () => {
    await w.handleMessage(completionMessage(fixture('seed-failure')));
    await w.handleMessage(completionMessage(fixture('seed-timeout')));
    expect(await job('job-def456')).toMatchObject({
      status: 'failed',
      error: { message: 'CUDA out of memory', type: 'RuntimeError' },
      result: null,
    });
    expect(await job('job-ghi789')).toMatchObject({
      status: 'timeout',
      error: { message: expect.stringMatching(/timeout/) },
    });
  });

  it('upgrades a failed job when a retried call succeeds, moving its batch count', async () => {
    const retry = successPayload(
      { call_id: 'call-retry', job_id: 'job-def456', batch_id: 'batch-xyz789' },
      { affinity: 0.9 },
    );
    expect((await w.handleMessage(completionMessage(retry))).kind).toBe('applied');
    expect(await job('job-def456')).toMatchObject({
      status: 'completed',
      modal_call_id: 'call-retry',
      previous_status: 'failed',
      error: null,
    });
    expect((await w.batches.doc('batch-xyz789').get()).data()).toMatchObject({ completed_jobs: 2, failed_jobs: 1 });
  });

  it('dead-letters a message that can never succeed, and acknowledges it', async () => {
    const noEnvelope = {
      messageId: 'bad-0',
      data: Buffer.from('{}').toString('base64'),
      attributes: { kind: 'completion', call_id: 'c-x' },
    };
    await expect(w.handleMessage(noEnvelope)).resolves.toEqual({ kind: 'dead_lettered', code: 'invalid_envelope' });
    const bad = {
      ...completionMessage({ call_id: 'c-x', status: 'success', metadata: { job_id: 'j-x' } }),
      messageId: 'bad-1',
    };
    bad.data = Buffer.from('not json').toString('base64');
    await expect(w.handleMessage(bad)).resolves.toEqual({ kind: 'dead_lettered', code: 'invalid_json' });
    const invalid = completionMessage({ call_id: 'c-y', status: 'success', metadata: { job_id: 'j-y' } });
    invalid.data = Buffer.from(
      JSON.stringify({ call_id: 'c-y', status: 'exploded', metadata: { job_id: 'j-y' } }),
    ).toString('base64');
    await expect(w.handleMessage(invalid)).resolves.toEqual({ kind: 'dead_lettered', code: 'invalid_payload' });
    /** The record of the message `messageId` (its id also holds a hash of its content). */
    const recordOf = async (messageId: string) =>
      (await w.deadLetters.where('message_id', '==', messageId).get()).docs.map((d) => d.data());
    const [stored] = await recordOf('bad-1');
    expect(stored).toMatchObject({
      code: 'invalid_json',
      message_id: 'bad-1',
      attributes: { call_id: 'c-x' },
      data_bytes: 8,
      replayed: false,
    });
    expect(Buffer.from(stored!.data_base64, 'base64').toString()).toBe('not json');
    expect((await recordOf(invalid.messageId!))[0]?.reason).toMatch(/status/);
    expect((await w.jobs.doc('j-y').get()).exists).toBe(false);
    expect(w.logger.lines.filter((l) => l.event === 'messageDeadLettered')).toHaveLength(3);
  });

  it('processes a CloudEvent as push and Eventarc deliver it', async () => {
    const message = completionMessage(successPayload({ call_id: 'call-ce', job_id: 'job-ce' }));
    await w.processCompletion({
      specversion: '1.0',
      id: 'evt-1',
      source: '//pubsub',
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      data: { message, subscription: 'projects/p/subscriptions/s' },
    });
    expect(await job('job-ce')).toMatchObject({ status: 'completed' });
  });

  it('reads a claim-checked body back from the result store', async () => {
    const payload = successPayload({ call_id: 'call-big', job_id: 'job-big' });
    const body = Buffer.from(JSON.stringify(payload));
    const { uri } = await w.results.putIfAbsent(claimPath('dlv-big', body), body, 'application/json');
    const message = completionMessage(payload, { claim_uri: uri });
    message.data = Buffer.from(JSON.stringify({ claim_uri: uri })).toString('base64');
    expect((await w.handleMessage(message)).kind).toBe('applied');
    expect(await job('job-big')).toMatchObject({ status: 'completed', modal_call_id: 'call-big' });

    const missing = completionMessage(payload, { claim_uri: uri.replace('dlv-big', 'dlv-gone') });
    expect(await w.handleMessage(missing)).toEqual({ kind: 'dead_lettered', code: 'claim_missing' });
  });

  it.each([
    ['another bucket', 'gs://someone-elses-bucket/claims/dlv-x/ab.json'],
    ['a results file outside claims/', 'jobs/job-big/call-big/result.json'],
    ['a path that climbs out', 'claims/../../../etc/passwd'],
    ['an http url', 'http://169.254.169.254/computeMetadata/v1/'],
  ])('never follows a claim_uri to %s: dead-lettered unread', async (_name, target) => {
    const resultsRoot = (
      await w.results.putIfAbsent('probe/x.json', Buffer.from('{}'), 'application/json')
    ).uri.replace(/probe\/x\.json$/, '');
    const uri = /^[a-z]+:/.test(target) ? target : `${resultsRoot}${target}`;
    const message = completionMessage(successPayload({ call_id: 'call-pin', job_id: 'job-pin' }), { claim_uri: uri });
    expect(await w.handleMessage(message)).toEqual({ kind: 'dead_lettered', code: 'invalid_envelope' });
    expect(await job('job-pin')).toBeUndefined();
  });

  it('throws on a transient failure so that Pub/Sub redelivers, and then succeeds', async () => {
    let failNext = true;
    const flaky = testWorker(
      {},
      {
        results: {
          async putIfAbsent(path, data, type) {
            if (failNext) {
              failNext = false;
              throw new Error('503 Service Unavailable');
            }
            return w.results.putIfAbsent(`flaky/${path}`, data, type);
          },
          get: (uri) => w.results.get(uri),
        },
      },
    );
    const message = completionMessage(successPayload({ call_id: 'call-flaky', job_id: 'job-flaky' }));
    await expect(flaky.handleMessage(message)).rejects.toThrow('503');
    expect((await flaky.jobs.doc('job-flaky').get()).exists).toBe(false);
    expect((await flaky.handleMessage(message)).kind).toBe('applied');
    expect(flaky.logger.lines.find((l) => l.event === 'completionFailed')).toMatchObject({
      severity: 'ERROR',
      job_id: 'job-flaky',
    });
  });
});

describe('batch completion', () => {
  it('finalises exactly once when all jobs are terminal: status, summary, ranking, file and event', async () => {
    const w = testWorker();
    await w.batches.doc('b1').set({ total_jobs: 4, created_by: 'backend' });
    const affinities = [0.2, 0.9, 0.9];
    const confidences = [0.5, 0.3, 0.8];
    for (let i = 0; i < 3; i++) {
      await w.handleMessage(
        completionMessage(
          successPayload(
            { call_id: `c${i}`, job_id: `j${i}`, batch_id: 'b1' },
            { affinity: affinities[i], confidence: confidences[i] },
          ),
        ),
      );
    }
    expect((await w.batches.doc('b1').get()).data()).toMatchObject({ completed_jobs: 3, total_jobs: 4 });
    expect((await w.batches.doc('b1').get()).data()?.status).toBeUndefined();

    const last = await w.handleMessage(
      completionMessage(failurePayload({ call_id: 'c3', job_id: 'j3', batch_id: 'b1' }, 'timeout')),
    );
    expect(last).toMatchObject({ kind: 'applied', batchCompleted: true });
    const batch = (await w.batches.doc('b1').get()).data()!;
    expect(batch).toMatchObject({
      status: 'completed',
      created_by: 'backend',
      completed_jobs: 3,
      failed_jobs: 1,
      batch_event_published: true,
      summary: {
        total_jobs: 4,
        completed_jobs: 3,
        failed_jobs: 1,
        timeout_jobs: 1,
        best_job: { job_id: 'j2', affinity: 0.9, confidence: 0.8 },
      },
    });
    expect(batch.completed_at).toBeInstanceOf(Timestamp);
    expect(batch.summary.ranking.map((r: { job_id: string }) => r.job_id)).toEqual(['j2', 'j1', 'j0']);
    expect(JSON.parse(readFileSync(fileURLToPath(batch.summary_uri)).toString())).toEqual(batch.summary);
    expect(w.batchEvents.messages).toHaveLength(1);
    expect(w.batchEvents.messages[0]!.attributes).toMatchObject({
      type: 'batch.completed',
      batch_id: 'b1',
      event_id: 'batch.completed:b1',
    });

    // Redelivered last message: nothing finalises twice.
    await w.handleMessage(
      completionMessage(failurePayload({ call_id: 'c3', job_id: 'j3', batch_id: 'b1' }, 'timeout')),
    );
    expect(w.batchEvents.messages).toHaveLength(1);
    expect(w.logger.lines.filter((l) => l.event === 'batchCompleted')).toHaveLength(1);
  });

  it('keeps counts for a batch whose document does not exist yet, and finalises once total_jobs is known', async () => {
    const w = testWorker();
    await w.handleMessage(completionMessage(successPayload({ call_id: 'e0', job_id: 'k0', batch_id: 'early' })));
    await w.handleMessage(completionMessage(failurePayload({ call_id: 'e1', job_id: 'k1', batch_id: 'early' })));
    expect((await w.batches.doc('early').get()).data()).toMatchObject({ completed_jobs: 1, failed_jobs: 1 });

    await w.batches.doc('early').set({ total_jobs: 2 }, { merge: true });
    const check = await w.handleMessage({
      messageId: 'chk',
      data: Buffer.from('{}').toString('base64'),
      attributes: { schema_version: '1', kind: 'batch_check', batch_id: 'early' },
    });
    expect(check).toEqual({ kind: 'batch_checked', batchId: 'early', batchCompleted: true });
    expect((await w.batches.doc('early').get()).data()).toMatchObject({
      status: 'completed',
      summary: { completed_jobs: 1, failed_jobs: 1 },
    });
  });

  it('ranks lower-is-better when AFFINITY_DIRECTION=lower', async () => {
    const w = testWorker({ AFFINITY_DIRECTION: 'lower', RANKING_SIZE: '2' });
    await w.batches.doc('low').set({ total_jobs: 3 });
    for (const [i, affinity] of [0.5, -1.2, 0.1].entries()) {
      await w.handleMessage(
        completionMessage(successPayload({ call_id: `l${i}`, job_id: `lj${i}`, batch_id: 'low' }, { affinity })),
      );
    }
    const summary = (await w.batches.doc('low').get()).data()!.summary;
    expect(summary.ranking.map((r: { job_id: string }) => r.job_id)).toEqual(['lj1', 'lj2']);
    expect(summary.affinity_direction).toBe('lower');
  });

  it('completes a 1,000-job batch whose jobs all finish at once: exact counts, one finalisation, no errors', async () => {
    const w = testWorker();
    const n = 1000;
    await w.batches.doc('hot').set({ total_jobs: n });
    const messages = Array.from({ length: n }, (_, i) =>
      i % 10 === 0
        ? completionMessage(failurePayload({ call_id: `h${i}`, job_id: `hj${i}`, batch_id: 'hot' }))
        : completionMessage(
            successPayload(
              { call_id: `h${i}`, job_id: `hj${i}`, batch_id: 'hot' },
              { affinity: (i % 97) / 97, confidence: (i % 13) / 13 },
            ),
          ),
    );
    // A duplicate of every 50th message arrives concurrently too (at-least-once delivery).
    const all = [...messages, ...messages.filter((_, i) => i % 50 === 0)];
    const started = Date.now();
    // As Pub/Sub would: a message whose handling throws is delivered again a moment later.
    const deliver = async (m: PubSubMessage): Promise<Awaited<ReturnType<typeof w.handleMessage>>> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await w.handleMessage(m);
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    const outcomes = await Promise.all(all.map(deliver));
    const seconds = (Date.now() - started) / 1000;
    const at = (event: string) =>
      w.logger.lines.filter((l) => l.event === event).map((l) => Date.parse(String(l.time)) - started);
    process.stdout.write(
      `1,000-job batch: ${all.length} messages in ${seconds.toFixed(1)} s (${(all.length / seconds).toFixed(0)}/s); last job applied at ${(Math.max(...at('completionApplied')) / 1000).toFixed(1)} s, batch completed at ${(Math.max(...at('batchCompleted')) / 1000).toFixed(1)} s\n`,
    );

    expect(outcomes.filter((o) => o.kind === 'applied')).toHaveLength(n);
    expect(outcomes.filter((o) => o.kind === 'duplicate')).toHaveLength(all.length - n);
    expect(outcomes.filter((o) => 'batchCompleted' in o && o.batchCompleted)).toHaveLength(1);
    const batch = (await w.batches.doc('hot').get()).data()!;
    expect(batch).toMatchObject({
      status: 'completed',
      completed_jobs: 900,
      failed_jobs: 100,
      summary: { completed_jobs: 900, failed_jobs: 100, total_jobs: 1000 },
    });
    expect(batch.summary.ranking).toHaveLength(10);
    expect(w.batchEvents.messages).toHaveLength(1);
    expect(w.logger.lines.filter((l) => l.severity === 'ERROR')).toEqual([]);
  });
});

describe('batch finalisation claim', () => {
  it('lets one claimant finalise a done batch; the same claimant may retry; a stale claim is taken over', async () => {
    const w = testWorker();
    const store = (await import('../../../shared/adapters/firestore')).createFirestoreJobStore(
      (w.jobs as any).firestore,
      w.collections,
    );
    await w.batches.doc('claimed').set({ total_jobs: 1 });
    await w.batches.doc('claimed').collection('counters').doc('3').set({ completed: 1 });
    const t0 = new Date();
    expect(await store.claimBatchFinalization('claimed', 'dlv_a', t0, 60_000)).toMatchObject({ total_jobs: 1 });
    expect(
      await store.claimBatchFinalization('claimed', 'dlv_b', new Date(t0.getTime() + 1000), 60_000),
    ).toBeUndefined();
    expect(await store.claimBatchFinalization('claimed', 'dlv_a', new Date(t0.getTime() + 2000), 60_000)).toBeDefined();
    expect(
      await store.claimBatchFinalization('claimed', 'dlv_b', new Date(t0.getTime() + 120_000), 60_000),
    ).toBeDefined();
    await w.batches.doc('not-done').set({ total_jobs: 2 });
    await w.batches.doc('not-done').collection('counters').doc('0').set({ completed: 1 });
    expect(await store.claimBatchFinalization('not-done', 'dlv_a', t0, 60_000)).toBeUndefined();
  });
});

describe('batch event recovery', () => {
  it('publishes the batch event of a finaliser that crashed, once, when its message comes back', async () => {
    let failEvents = true;
    let offsetMs = 0;
    const w = testWorker({}, { clock: () => new Date(Date.now() + offsetMs) });
    const original = w.batchEvents.publish.bind(w.batchEvents);
    w.batchEvents.publish = async (data, attributes) => {
      if (failEvents) throw new Error('14 UNAVAILABLE');
      return original(data, attributes);
    };
    await w.batches.doc('crashy').set({ total_jobs: 1 });
    const message = completionMessage(successPayload({ call_id: 'cr1', job_id: 'crj1', batch_id: 'crashy' }));
    await expect(w.handleMessage(message)).rejects.toThrow('UNAVAILABLE');
    expect((await w.batches.doc('crashy').get()).data()).toMatchObject({
      status: 'completed',
      batch_event_published: false,
    });
    failEvents = false;

    // Right away, another message for the batch does not publish (the finaliser may still be at
    // it), and the finaliser's own redelivery asks to come back later.
    await w.handleMessage(completionMessage(failurePayload({ call_id: 'cr2', job_id: 'crj1', batch_id: 'crashy' })));
    await expect(w.handleMessage(message)).rejects.toThrow(/not published yet/);
    expect(w.batchEvents.messages).toHaveLength(0);

    offsetMs = 61_000;
    await w.handleMessage(message);
    await w.handleMessage(message);
    expect(w.batchEvents.messages).toHaveLength(1);
    expect((await w.batches.doc('crashy').get()).data()).toMatchObject({ batch_event_published: true });
  });
});
