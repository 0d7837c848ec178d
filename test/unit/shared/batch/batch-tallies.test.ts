/**
 * A batch's summary from its counter tallies and a ranking of its best jobs, instead of from every
 * job: for any history of completions (duplicates, upgrades, timeouts, cancels, missing scores,
 * tied affinities), the same summary as the full scan, on the in-memory store.
 */
import fc from 'fast-check';
import { rankJobs, summarizeBatch, tallyJobs, type AffinityDirection } from '../../../../shared/batch/batch';
import { shardIncrements, sumTallies, talliesCover } from '../../../../shared/batch/batch-counters';
import { createBatchFinalizer } from '../../../../shared/batch/batch-finalization';
import { planCancel, planJobUpdate } from '../../../../shared/completion/completion';
import { completionPayloadSchema } from '../../../../shared/contract/schemas';
import { memoryLogger } from '../../../../shared/observability/log';
import { memoryBlobStore, memoryJobStore } from '../../../support/memory-job-store';

type Step =
  | {
      kind: 'complete';
      job: number;
      status: 'success' | 'failure' | 'timeout';
      affinity: number | null;
      confidence: number | null;
      ptm: number | undefined;
      delivery: number;
    }
  | { kind: 'cancel'; job: number };

const JOBS = 12;
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('complete' as const),
      job: fc.nat({ max: JOBS - 1 }),
      status: fc.constantFrom('success' as const, 'failure' as const, 'timeout' as const),
      // Few distinct values, so that ties in affinity and confidence are common.
      affinity: fc.option(fc.constantFrom(-1.5, 0, 0.25, 0.5, 0.5000001, 3)),
      confidence: fc.option(fc.constantFrom(0.1, 0.5, 0.9)),
      ptm: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
      delivery: fc.nat({ max: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), job: fc.nat({ max: JOBS - 1 }) }) },
);

const now = new Date('2026-11-30T12:00:00Z');

async function play(steps: Step[], options: { legacyShards?: boolean } = {}) {
  const jobs = memoryJobStore(options);
  for (const s of steps) {
    const jobId = `job-${String(s.job).padStart(2, '0')}`;
    if (s.kind === 'cancel') {
      // Cancelling works on a registered execution's job: running, in its batch.
      if (!jobs.jobs.has(jobId)) jobs.jobs.set(jobId, { status: 'running', batch_id: 'b' });
      await jobs.applyToJob(jobId, (existing) => planCancel(existing, `call-${jobId}`, now, 'test'));
      continue;
    }
    const result =
      s.status === 'success'
        ? { affinity: s.affinity, confidence: s.confidence, ...(s.ptm === undefined ? {} : { ptm_score: s.ptm }) }
        : undefined;
    const payload = completionPayloadSchema.parse({
      call_id: `call-${jobId}-${s.delivery}`,
      status: s.status,
      ...(result ? { result } : {}),
      metadata: { job_id: jobId, batch_id: 'b' },
    });
    await jobs.applyToJob(jobId, (existing) =>
      planJobUpdate(
        existing,
        { deliveryId: `d-${jobId}-${s.status}-${s.delivery}`, payload, receivedAt: now, source: 'webhook' },
        now,
      ),
    );
  }
  return jobs;
}

const closeMeans = (a: Record<string, number | null>, b: Record<string, number | null>) =>
  Object.keys(b).every((k) => (a[k] === null ? b[k] === null : b[k] !== null && Math.abs(a[k]! - b[k]!) < 1e-6));

it("the counters' tallies equal a count over the final jobs, for any history of completions (property)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
      const jobs = await play(steps);
      const fromShards = await jobs.batchTallies('b');
      const fromJobs = tallyJobs(await jobs.listBatchJobs('b'));
      expect(fromShards.tallies.statuses).toEqual(fromJobs.statuses);
      expect(fromShards.tallies.scoreCounts).toEqual(fromJobs.scoreCounts);
      for (const [field, sum] of Object.entries(fromJobs.scoreSums))
        expect(fromShards.tallies.scoreSums[field as 'affinity']).toBeCloseTo(sum, 9);
      expect(talliesCover(fromShards, fromShards.tallies)).toBe(true);
    }),
    { numRuns: 200 },
  );
});

it('ranks the top of the ordered query the same as the whole batch, ties included (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { maxLength: 60 }),
      fc.constantFrom<AffinityDirection>('higher', 'lower'),
      fc.integer({ min: 1, max: 6 }),
      async (steps, direction, rankingSize) => {
        const jobs = await play(steps);
        const options = { direction, rankingSize };
        expect(rankJobs(await jobs.topRankedJobs('b', direction, rankingSize), options)).toEqual(
          rankJobs(await jobs.listBatchJobs('b'), options),
        );
      },
    ),
    { numRuns: 200 },
  );
});

function finalizer(jobs: ReturnType<typeof memoryJobStore>, direction: AffinityDirection = 'higher') {
  const logger = memoryLogger();
  const results = memoryBlobStore();
  const f = createBatchFinalizer({
    jobs,
    results,
    clock: () => now,
    logger,
    summary: { direction, rankingSize: 3 },
    countsIntervalMs: 0,
  });
  return { ...f, logger, results };
}

it("finalises with the full scan's summary without listing the batch's jobs (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { minLength: 1, maxLength: 60 }),
      fc.constantFrom<AffinityDirection>('higher', 'lower'),
      async (steps, direction) => {
        const jobs = await play(steps);
        const counted = jobs.batches.get('b');
        fc.pre(counted !== undefined);
        const total = (counted.completed_jobs ?? 0) + (counted.failed_jobs ?? 0);
        jobs.batches.set('b', { ...counted, total_jobs: total });
        const reference = summarizeBatch('b', { ...counted, total_jobs: total }, await jobs.listBatchJobs('b'), {
          direction,
          rankingSize: 3,
        });
        let listed = 0;
        const listBatchJobs = jobs.listBatchJobs;
        jobs.listBatchJobs = async (id) => {
          listed++;
          return listBatchJobs(id);
        };
        const f = finalizer(jobs, direction);
        expect(await f.finalizeIfDone('b', 'm')).toBe(true);
        const { mean_scores: means, ...summary } = jobs.batches.get('b')!.summary as typeof reference;
        const { mean_scores: referenceMeans, ...rest } = reference;
        expect(summary).toEqual(rest);
        expect(closeMeans(means, referenceMeans)).toBe(true);
        expect(listed).toBe(0);
      },
    ),
    { numRuns: 150 },
  );
});

it('summarises from every job when the shards predate the tallies, and says so in the log', async () => {
  const steps: Step[] = [
    { kind: 'complete', job: 0, status: 'success', affinity: 0.5, confidence: 0.9, ptm: 0.3, delivery: 0 },
    { kind: 'complete', job: 1, status: 'timeout', affinity: null, confidence: null, ptm: undefined, delivery: 0 },
    { kind: 'complete', job: 2, status: 'success', affinity: 0.7, confidence: null, ptm: undefined, delivery: 0 },
    { kind: 'cancel', job: 3 },
  ];
  const jobs = await play(steps, { legacyShards: true });
  jobs.batches.set('b', { ...jobs.batches.get('b'), total_jobs: 4 });
  const f = finalizer(jobs);
  expect(await f.finalizeIfDone('b', 'm')).toBe(true);
  expect(jobs.batches.get('b')!.summary).toMatchObject({
    completed_jobs: 2,
    failed_jobs: 2,
    timeout_jobs: 1,
    cancelled_jobs: 1,
    best_job: { job_id: 'job-02' },
    mean_scores: { affinity: 0.6, ptm_score: 0.3 },
  });
  expect(f.logger.lines).toEqual(
    expect.arrayContaining([expect.objectContaining({ event: 'batchSummaryFullScan', batch_id: 'b' })]),
  );
});

it('turns a completion into increments of its shard: buckets, statuses, and one count per reported score', () => {
  expect(
    shardIncrements({
      completed: 1,
      failed: -1,
      statuses: { completed: 1, timeout: -1 },
      scores: { affinity: 0.25, confidence: 0 },
    }),
  ).toEqual({
    completed: 1,
    failed: -1,
    'statuses.completed': 1,
    'statuses.timeout': -1,
    'score_sums.affinity': 0.25,
    'score_counts.affinity': 1,
    'score_sums.confidence': 0,
    'score_counts.confidence': 1,
  });
  expect(
    sumTallies([
      { completed: 2, statuses: { completed: 2 } },
      { failed: 1, statuses: { failed: 1, bogus: 5 }, score_sums: { affinity: 'x' } },
    ]),
  ).toMatchObject({
    completed_jobs: 2,
    failed_jobs: 1,
    tallies: { statuses: { completed: 2, failed: 1, timeout: 0, cancelled: 0 }, scoreSums: { affinity: 0 } },
  });
  expect(
    talliesCover({ completed_jobs: 2, failed_jobs: 1 }, sumTallies([{ statuses: { completed: 2 } }]).tallies),
  ).toBe(false);
});
