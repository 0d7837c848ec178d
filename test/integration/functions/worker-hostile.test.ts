/**
 * Validly signed but hostile completions on the real Firestore emulator: whatever the webhook's
 * contract lets through, the worker applies or dead-letters at once — it never throws for it (a throw
 * is a redelivery loop). And a late upgrade keeps a finalised batch's summary equal to its counters.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeCompletionBody } from '../../../shared/contract/messages';
import { successPayload } from '../../support/fixtures';
import { completionMessage, testWorker } from '../../support/worker';

jest.setTimeout(120_000);

const w = testWorker();
const job = async (id: string) => (await w.jobs.doc(id).get()).data();

const hostile: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
  [
    'nested arrays in the result',
    { call_id: 'c-mb2', status: 'success', result: { affinity: 0.7, pose: [[1, 2, 3]] }, metadata: { job_id: 'mb2' } },
    { status: 'completed', result: { affinity: 0.7 }, result_extras_in_file: true },
  ],
  [
    'reserved, empty and long field names',
    {
      call_id: 'c-names',
      status: 'success',
      result: { affinity: 0.1, __x__: 1, '': 2, ['k'.repeat(1600)]: 3 },
      metadata: { job_id: 'names' },
    },
    { status: 'completed', result: { affinity: 0.1 }, result_extras_in_file: true },
  ],
  [
    'maps 25 deep',
    {
      call_id: 'c-deep',
      status: 'success',
      result: { affinity: 0.2, tree: JSON.parse(`${'{"a":'.repeat(25)}1${'}'.repeat(25)}`) },
      metadata: { job_id: 'deep' },
    },
    { status: 'completed', result: { affinity: 0.2 }, result_extras_in_file: true },
  ],
  [
    'a 1.2 MB result string',
    {
      call_id: 'c-big',
      status: 'success',
      result: { affinity: 0.3, log: 'L'.repeat(1_200_000) },
      metadata: { job_id: 'big' },
    },
    { status: 'completed', result: { affinity: 0.3 }, result_extras_in_file: true },
  ],
  [
    'a 1.2 MB traceback',
    {
      call_id: 'c-tb',
      status: 'failure',
      error: { message: 'boom', traceback: 'T'.repeat(1_200_000) },
      metadata: { job_id: 'tb' },
    },
    { status: 'failed', error: { message: 'boom', truncated: true } },
  ],
  [
    'an error with unstorable extra fields',
    { call_id: 'c-ex', status: 'failure', error: { message: 'x', frames: [[1]] }, metadata: { job_id: 'ex' } },
    { status: 'failed', error: { message: 'x', truncated: true } },
  ],
];

it.each(hostile)('applies %s: bounded document, full content in the stored file', async (_name, payload, expected) => {
  const outcome = await w.handleMessage(completionMessage(payload));
  expect(outcome.kind).toBe('applied');
  const doc = (await job((payload.metadata as { job_id: string }).job_id))!;
  expect(doc).toMatchObject(expected);
  expect(Buffer.byteLength(JSON.stringify(doc))).toBeLessThan(64 * 1024);
  const file = doc.result_uri ?? doc.error_uri;
  expect(file).toMatch(/\.json$/);
  const stored = JSON.parse(readFileSync(fileURLToPath(file)).toString());
  const full = payload.status === 'success' ? stored.scores : stored.error;
  const { structure_file_base64: _s, ...sent } = (
    payload.status === 'success' ? payload.result : payload.error
  ) as Record<string, unknown>;
  expect(full).toEqual(sent);
});

it('dead-letters at once, never loops, what breaks the contract (an id too long for a file name)', async () => {
  const message = completionMessage({ call_id: 'c-ok', status: 'success', metadata: { job_id: 'fine' } });
  message.data = Buffer.from(
    JSON.stringify({ call_id: 'c-ok', status: 'success', metadata: { job_id: 'j'.repeat(256) } }),
  ).toString('base64');
  await expect(w.handleMessage(message)).resolves.toEqual({ kind: 'dead_lettered', code: 'invalid_payload' });
  const body = Buffer.from(
    JSON.stringify({ call_id: 'c-long', status: 'success', metadata: { job_id: 'j'.repeat(256) } }),
  );
  expect(decodeCompletionBody(body).ok).toBe(false);
});

it('recomputes a finalised batch summary when a late success upgrades a failed job', async () => {
  await w.batches.doc('up-batch').set({ total_jobs: 2 });
  await w.handleMessage(
    completionMessage(successPayload({ call_id: 'up-c1', job_id: 'up-1', batch_id: 'up-batch' }, { affinity: 0.4 })),
  );
  await w.handleMessage(
    completionMessage({
      call_id: 'up-c2',
      status: 'failure',
      error: 'oom',
      metadata: { job_id: 'up-2', batch_id: 'up-batch' },
    }),
  );
  const first = (await w.batches.doc('up-batch').get()).data()!;
  expect(first).toMatchObject({
    status: 'completed',
    completed_jobs: 1,
    failed_jobs: 1,
    summary: { completed_jobs: 1, failed_jobs: 1, success_rate: 0.5 },
  });

  await w.handleMessage(
    completionMessage(successPayload({ call_id: 'up-c2b', job_id: 'up-2', batch_id: 'up-batch' }, { affinity: 0.9 })),
  );
  const after = (await w.batches.doc('up-batch').get()).data()!;
  expect(after).toMatchObject({
    completed_jobs: 2,
    failed_jobs: 0,
    summary: { completed_jobs: 2, failed_jobs: 0, success_rate: 1 },
  });
  expect(after.summary.ranking.map((r: { job_id: string }) => r.job_id)).toEqual(['up-2', 'up-1']);
  const file = JSON.parse(readFileSync(fileURLToPath(after.summary_uri)).toString());
  expect(file).toMatchObject({ completed_jobs: 2, failed_jobs: 0, success_rate: 1 });
  expect(after.summary_uri).toMatch(/summary-2-0\.json$/);
  expect(w.batchEvents.messages.filter((m) => m.attributes.batch_id === 'up-batch')).toHaveLength(1);
});
