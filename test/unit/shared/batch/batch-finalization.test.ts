/** Batch finalisation as a use-case over the JobStore port, without Firestore. */
import { createBatchFinalizer, EVENT_RECOVERY_MS, rollupGate } from '../../../../shared/batch/batch-finalization';
import { planJobUpdate } from '../../../../shared/completion/completion';
import { memoryLogger } from '../../../../shared/observability/log';
import type { Publisher } from '../../../../shared/ports';
import { completionPayloadSchema } from '../../../../shared/contract/schemas';
import { memoryBlobStore, memoryJobStore } from '../../../support/memory-job-store';

function setup(now = new Date('2026-11-28T12:00:00Z')) {
  const jobs = memoryJobStore();
  const results = memoryBlobStore();
  const events: Array<Record<string, string>> = [];
  let failEvents = false;
  const batchEvents: Publisher = {
    topic: 'events',
    publish: async (_d, a) => {
      if (failEvents) throw new Error('14 UNAVAILABLE');
      events.push(a);
      return '1';
    },
  };
  const clock = { now };
  const finalizer = createBatchFinalizer({
    jobs,
    results,
    batchEvents,
    clock: () => clock.now,
    logger: memoryLogger(),
    summary: { direction: 'higher', rankingSize: 10 },
    countsIntervalMs: 0,
  });
  const complete = async (
    jobId: string,
    status: 'success' | 'failure',
    batchId: string,
    affinity = 0.5,
    call = `c-${jobId}`,
  ) => {
    const payload = completionPayloadSchema.parse({
      call_id: call,
      status,
      ...(status === 'success' ? { result: { affinity } } : {}),
      metadata: { job_id: jobId, batch_id: batchId },
    });
    await jobs.applyToJob(jobId, (existing) =>
      planJobUpdate(
        existing,
        { deliveryId: `d-${call}-${status}`, payload, receivedAt: clock.now, source: 'webhook' },
        clock.now,
      ),
    );
  };
  return { jobs, results, events, finalizer, complete, clock, failEvents: (v: boolean) => (failEvents = v) };
}

it('does nothing until every job is counted, then finalises once whoever asks', async () => {
  const s = setup();
  s.jobs.batches.set('b', { total_jobs: 3 });
  await s.complete('j1', 'success', 'b', 0.2);
  await s.complete('j2', 'failure', 'b');
  expect(await s.finalizer.finalizeIfDone('b', 'm1')).toBe(false);
  await s.complete('j3', 'success', 'b', 0.9);
  const results = await Promise.all(['m3', 'm3-dup', 'check'].map((c) => s.finalizer.finalizeIfDone('b', c)));
  expect(results.filter(Boolean)).toHaveLength(1);
  const batch = s.jobs.batches.get('b')!;
  expect(batch).toMatchObject({
    status: 'completed',
    summary: { completed_jobs: 2, failed_jobs: 1, success_rate: 0.6667 },
    batch_event_published: true,
  });
  expect((batch.summary as { ranking: Array<{ job_id: string }> }).ranking.map((r) => r.job_id)).toEqual(['j3', 'j1']);
  expect(batch.summary_uri).toBe('mem://batches/b/summary-2-1.json');
  expect(JSON.parse(s.results.objects.get(batch.summary_uri!)!.toString())).toEqual(batch.summary);
  expect(s.events).toEqual([
    expect.objectContaining({ type: 'batch.completed', batch_id: 'b', event_id: 'batch.completed:b' }),
  ]);
});

it('recomputes the summary when a late success upgrades a failed job of a finalised batch', async () => {
  const s = setup();
  s.jobs.batches.set('b', { total_jobs: 2 });
  await s.complete('j1', 'success', 'b');
  await s.complete('j2', 'failure', 'b');
  await s.finalizer.finalizeIfDone('b', 'm');
  await s.complete('j2', 'success', 'b', 0.7, 'c-j2-retry');
  await s.finalizer.finalizeIfDone('b', 'm-retry');
  expect(s.jobs.batches.get('b')).toMatchObject({
    completed_jobs: 2,
    failed_jobs: 0,
    summary: { completed_jobs: 2, failed_jobs: 0, success_rate: 1 },
    summary_uri: 'mem://batches/b/summary-2-0.json',
  });
  expect(s.events).toHaveLength(1);
});

it('publishes a lost event once its finaliser evidently failed, and not before', async () => {
  const s = setup();
  s.jobs.batches.set('b', { total_jobs: 1 });
  await s.complete('j1', 'success', 'b');
  s.failEvents(true);
  await expect(s.finalizer.finalizeIfDone('b', 'm')).rejects.toThrow('UNAVAILABLE');
  s.failEvents(false);
  expect(await s.finalizer.finalizeIfDone('b', 'other')).toBe(false);
  expect(s.events).toHaveLength(0);
  await expect(s.finalizer.finalizeIfDone('b', 'm')).rejects.toThrow('not published yet');
  s.clock.now = new Date(s.clock.now.getTime() + EVENT_RECOVERY_MS + 1);
  await s.finalizer.finalizeIfDone('b', 'other');
  expect(s.events).toHaveLength(1);
  expect(s.jobs.batches.get('b')!.batch_event_published).toBe(true);
});

describe('rollupGate', () => {
  it("lets one write-back of a batch's counts through per interval in this process, each batch on its own", () => {
    let t = 0;
    const gate = rollupGate(1000, () => t);
    expect([gate.due('a'), gate.due('a'), gate.due('b')]).toEqual([true, false, true]);
    t = 999;
    expect(gate.due('a')).toBe(false);
    t = 1000;
    expect([gate.due('a'), gate.due('a')]).toEqual([true, false]);
  });

  it('lets every completion through when the interval is 0', () => {
    const gate = rollupGate(0, () => 0);
    expect([gate.due('a'), gate.due('a')]).toEqual([true, true]);
  });
});
