/** The decisions the Firestore adapter runs in its transactions. */
import {
  decideBatchCompletion,
  decideFinalizationClaim,
  executionUpdateFor,
  planExecutionRegistration,
  planStale,
} from '../../../../shared/completion/store-rules';
import type { BatchSummary } from '../../../../shared/batch/batch';

const now = new Date('2026-11-28T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);

it.each([
  ['nobody holds it', { total_jobs: 1, completed_jobs: 1 }, true],
  [
    'the claimant holds it (its message redelivered)',
    { total_jobs: 1, completed_jobs: 1, finalization: { by: 'me', at: minutesAgo(1) } },
    true,
  ],
  [
    'another holds it within the lease',
    { total_jobs: 1, completed_jobs: 1, finalization: { by: 'other', at: minutesAgo(1) } },
    false,
  ],
  [
    'another held it past the lease (crashed)',
    { total_jobs: 1, completed_jobs: 1, finalization: { by: 'other', at: minutesAgo(11) } },
    true,
  ],
  ['the batch is already completed', { total_jobs: 1, completed_jobs: 1, status: 'completed' }, false],
])('finalisation claim when %s → %s', (_n, batch, claimed) => {
  expect(decideFinalizationClaim(batch, true, 'me', now, 10 * 60_000).claimed).toBe(claimed);
});

it('completes a batch only with a summary of its current counts', () => {
  const summary = { completed_jobs: 2, failed_jobs: 1 } as BatchSummary;
  expect(decideBatchCompletion({ completed_jobs: 2, failed_jobs: 1 }, summary)).toBe('completed');
  expect(decideBatchCompletion({ completed_jobs: 3, failed_jobs: 0 }, summary)).toBe('counts_moved');
  expect(decideBatchCompletion({ completed_jobs: 2, failed_jobs: 1, status: 'completed' }, summary)).toBe(
    'already_completed',
  );
  expect(decideBatchCompletion(undefined, summary)).toBe('counts_moved');
});

it('ends the execution of an applied plan, and of nothing else', () => {
  expect(
    executionUpdateFor({
      kind: 'apply',
      status: 'completed',
      update: { modal_call_id: 'c1', job_id: 'j1', updated_at: now },
    }),
  ).toEqual({
    callId: 'c1',
    fields: { call_id: 'c1', job_id: 'j1', status: 'completed', completed_at: now, updated_at: now },
  });
  expect(executionUpdateFor({ kind: 'duplicate', reason: 'x' })).toBeUndefined();
});

it('registers a call once; the job runs unless it already finished', () => {
  const input = { call_id: 'c1', job_id: 'j1', batch_id: 'b1' };
  expect(planExecutionRegistration(undefined, undefined, input, now)).toMatchObject({
    created: true,
    execution: { status: 'running' },
    jobUpdate: { status: 'running', modal_call_id: 'c1', batch_id: 'b1' },
  });
  const done = planExecutionRegistration(undefined, { status: 'completed' }, input, now);
  expect(done).toMatchObject({ created: true, execution: { status: 'completed' } });
  expect(done.jobUpdate).toBeUndefined();
  expect(planExecutionRegistration({ call_id: 'c1', job_id: 'j1', status: 'running' }, undefined, input, now)).toEqual({
    created: false,
    execution: { call_id: 'c1', job_id: 'j1', status: 'running' },
  });
});

it('marks a running execution stale, and its job unless the job already finished', () => {
  const exec = { call_id: 'c1', job_id: 'j1', status: 'running' };
  expect(planStale(exec, { status: 'running' }, now)).toEqual({
    execution: { status: 'stale', stale_at: now, updated_at: now },
    job: { status: 'stale', stale_at: now, updated_at: now },
  });
  expect(planStale(exec, { status: 'completed' }, now).job).toBeUndefined();
  expect(planStale({ ...exec, status: 'completed' }, undefined, now)).toEqual({});
});
