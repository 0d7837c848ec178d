/** The worker's dispatch and use-cases on an in-memory store: no Firestore, no Pub/Sub. */
import { createCompletionWorker, type PubSubMessage } from '../../../../functions/worker/handler';
import { loadWorkerConfig } from '../../../../shared/config/config';
import { deliveryId } from '../../../../shared/contract/delivery';
import { memoryLogger } from '../../../../shared/observability/log';
import { encodeBatchCheck, encodeCompletion, encodeWebhookStats } from '../../../../shared/contract/messages';
import { completionPayloadSchema } from '../../../../shared/contract/schemas';
import { memoryBlobStore, memoryJobStore } from '../../../support/memory-job-store';

function setup() {
  const jobs = memoryJobStore();
  const results = memoryBlobStore();
  const logger = memoryLogger();
  const worker = createCompletionWorker({
    config: loadWorkerConfig({}),
    jobs,
    results,
    clock: () => new Date(),
    logger,
  });
  return { jobs, results, logger, worker };
}

let n = 0;
function message(payload: Record<string, unknown>): PubSubMessage {
  const parsed = completionPayloadSchema.parse(payload);
  const body = Buffer.from(JSON.stringify(payload));
  const { data, attributes } = encodeCompletion(body, parsed, {
    deliveryId: deliveryId(parsed.call_id, parsed.status),
    receivedAt: new Date(),
    source: 'webhook',
  });
  return { messageId: `m${++n}`, data: data.toString('base64'), attributes };
}
const raw = (m: { data: Buffer; attributes: Record<string, string> }): PubSubMessage => ({
  messageId: `m${++n}`,
  data: m.data.toString('base64'),
  attributes: m.attributes,
});

it('applies a completion: files first, then the job, and ends its execution', async () => {
  const s = setup();
  const outcome = await s.worker.handleMessage(
    message({
      call_id: 'c1',
      status: 'success',
      result: { affinity: 0.4, pose: [[1, 2]] },
      metadata: { job_id: 'j1' },
    }),
  );
  expect(outcome).toMatchObject({ kind: 'applied', jobId: 'j1' });
  const job = s.jobs.jobs.get('j1')!;
  expect(job).toMatchObject({
    status: 'completed',
    result: { affinity: 0.4 },
    result_extras_in_file: true,
    result_uri: 'mem://jobs/j1/c1/result.json',
  });
  expect(JSON.parse(s.results.objects.get('mem://jobs/j1/c1/result.json')!.toString()).scores).toEqual({
    affinity: 0.4,
    pose: [[1, 2]],
  });
  expect(s.jobs.executions.get('c1')).toMatchObject({ status: 'completed', job_id: 'j1' });
  expect(
    (
      await s.worker.handleMessage(
        message({ call_id: 'c1', status: 'success', result: { affinity: 0.4 }, metadata: { job_id: 'j1' } }),
      )
    ).kind,
  ).toBe('duplicate');
});

it('dispatches by message kind: batch checks, stats, and unknown kinds dead-lettered', async () => {
  const s = setup();
  s.jobs.batches.set('b', { total_jobs: 0 });
  expect(await s.worker.handleMessage(raw(encodeBatchCheck('b')))).toEqual({
    kind: 'batch_checked',
    batchId: 'b',
    batchCompleted: true,
  });
  const stats = encodeWebhookStats({
    instance: 'abc',
    seq: 0,
    minutes: { '2026-11-28T12:00:00.000Z': { accepted: 3, rejected: { bad_signature: 1 } } },
  });
  expect(await s.worker.handleMessage(raw(stats))).toEqual({ kind: 'stats_recorded', minutes: 1 });
  expect(s.jobs.stats.size).toBe(1);
  expect(await s.worker.handleMessage({ messageId: 'x', data: 'e30=', attributes: { kind: 'mystery' } })).toEqual({
    kind: 'dead_lettered',
    code: 'unknown_message',
  });
  expect([...s.jobs.deadLetters.values()]).toEqual([
    expect.objectContaining({ id: expect.stringMatching(/^msg_x_[0-9a-f]{12}$/), code: 'unknown_message' }),
  ]);
});

describe('failures', () => {
  const failing = (err: Error) => {
    const s = setup();
    s.jobs.applyToJob = async () => {
      throw err;
    };
    return s;
  };
  const grpc = (code: number, text: string) => Object.assign(new Error(`${code} ${text}`), { code });

  it('dead-letters at once what the store refuses for its content', async () => {
    const s = failing(grpc(3, 'INVALID_ARGUMENT: Cannot convert an array value in an array value'));
    expect(
      await s.worker.handleMessage(message({ call_id: 'c', status: 'failure', metadata: { job_id: 'j' } })),
    ).toEqual({ kind: 'dead_lettered', code: 'rejected_by_store' });
  });

  it('lets Pub/Sub redeliver what is transient, however often', async () => {
    const s = failing(grpc(14, 'UNAVAILABLE: connection refused'));
    const m = message({ call_id: 'c', status: 'failure', metadata: { job_id: 'j' } });
    for (let i = 0; i < 8; i++) await expect(s.worker.handleMessage(m)).rejects.toThrow('UNAVAILABLE');
    expect(s.jobs.deadLetters.size).toBe(0);
  });

  it('dead-letters a failure of unknown cause after its budget instead of looping', async () => {
    const s = failing(new Error('something odd'));
    const m = message({ call_id: 'c', status: 'failure', metadata: { job_id: 'j' } });
    for (let i = 0; i < 4; i++) await expect(s.worker.handleMessage(m)).rejects.toThrow('something odd');
    expect(await s.worker.handleMessage(m)).toEqual({ kind: 'dead_lettered', code: 'retry_budget_exhausted' });
  });
});

describe('dead letters an operator pages', () => {
  it('records a completion Pub/Sub forwarded to the dead-letter topic, with its attempts, and applies nothing', async () => {
    const s = setup();
    const m = message({ call_id: 'c-dl', status: 'success', result: { affinity: 0.2 }, metadata: { job_id: 'j-dl' } });
    const forwarded = {
      ...m,
      attributes: {
        ...m.attributes,
        CloudPubSubDeadLetterSourceSubscription: 'modal-completions-worker',
        CloudPubSubDeadLetterSourceDeliveryCount: '10',
      },
    };
    expect(await s.worker.handleMessage(forwarded)).toEqual({
      kind: 'dead_lettered',
      code: 'delivery_attempts_exhausted',
    });
    expect(s.jobs.jobs.has('j-dl')).toBe(false);
    const [record, ...others] = [...s.jobs.deadLetters.values()];
    expect(others).toEqual([]);
    expect(record!.id).toMatch(new RegExp(`^msg_${m.messageId}_[0-9a-f]{12}$`));
    expect(record).toMatchObject({ code: 'delivery_attempts_exhausted', attributes: { job_id: 'j-dl' } });
    expect(record!.reason).toContain('after 10 delivery attempts');
    expect(Buffer.from(record!.dataBase64!, 'base64').toString()).toBe(Buffer.from(m.data!, 'base64').toString());
  });

  it('writes what became of a replay on the dead letter it came from', async () => {
    const s = setup();
    const m = message({ call_id: 'c-rp', status: 'success', result: { affinity: 0.2 }, metadata: { job_id: 'j-rp' } });
    const replayed = { ...m, attributes: { ...m.attributes, source: 'replay', replayed_from: 'msg_dead-1' } };
    expect(await s.worker.handleMessage(replayed)).toMatchObject({ kind: 'applied', jobId: 'j-rp' });
    expect(s.jobs.replayOutcomes.get('msg_dead-1')).toMatchObject({ kind: 'applied' });

    const poison = { ...raw(encodeBatchCheck('b')), attributes: { kind: 'nonsense', replayed_from: 'msg_dead-2' } };
    expect(await s.worker.handleMessage(poison)).toEqual({ kind: 'dead_lettered', code: 'unknown_message' });
    expect(s.jobs.replayOutcomes.get('msg_dead-2')).toMatchObject({ kind: 'dead_lettered', code: 'unknown_message' });
  });
});
