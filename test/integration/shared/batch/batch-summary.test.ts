/**
 * A 1,000-job batch on the Firestore emulator, summarised from its counter tallies and the ranking
 * query (no read of every job): finalised once, exact counts, and the same summary and ranking as
 * the full scan over every job computed the way it was before (summarizeBatch).
 */
import { summarizeBatch, type BatchSummary } from '../../../../shared/batch/batch';
import { createFirestoreJobStore } from '../../../../shared/adapters/firestore';
import { completionMessage, emulatorFirestore, testWorker } from '../../../support/worker';

jest.setTimeout(180_000);

const SIZE = 1000;
const AFFINITIES = [-2, -1.25, 0, 0.5, 0.75, 1.5];

/** Job i's completions, in order: failures, timeouts, upgrades after a failure, missing scores, tied affinities. */
function completionsOf(i: number, batchId: string): Array<Record<string, unknown>> {
  const ids = (suffix = '') => ({
    call_id: `bs-c${i}${suffix}`,
    metadata: { job_id: `bs-j${String(i).padStart(4, '0')}`, batch_id: batchId },
  });
  const success = (suffix = '') => ({
    ...ids(suffix),
    status: 'success',
    result: {
      ...(i % 13 === 0 ? {} : { affinity: AFFINITIES[i % AFFINITIES.length]! }),
      ...(i % 3 === 0 ? {} : { confidence: (i % 7) / 7 }),
      ptm_score: (i % 11) / 10,
      execution_time: 100 + (i % 17),
    },
  });
  if (i % 20 === 1) return [{ ...ids(), status: 'failure', error: { message: 'CUDA out of memory' } }];
  if (i % 20 === 2) return [{ ...ids(), status: 'timeout' }];
  if (i % 20 === 3) return [{ ...ids(), status: 'failure', error: { message: 'preempted' } }, success('-retry')];
  if (i % 20 === 4) return [success(), success()]; // a duplicate delivery
  return [success()];
}

it("finalises a 1,000-job batch once, from tallies and a ranking query, with the full scan's summary", async () => {
  const w = testWorker({ BATCH_COUNTS_INTERVAL_MS: '60000', BATCH_COUNTER_SHARDS: '16', RANKING_SIZE: '25' });
  const batchId = 'summary-1k';
  await w.batches.doc(batchId).set({ total_jobs: SIZE });
  const queue = Array.from({ length: SIZE }, (_, i) => completionsOf(i, batchId));
  let next = 0;
  await Promise.all(
    Array.from({ length: 24 }, async () => {
      while (next < queue.length) {
        for (const payload of queue[next++]!) {
          for (;;) {
            try {
              await w.handleMessage(completionMessage(payload));
              break;
            } catch {
              // transient (contention): Pub/Sub would redeliver
            }
          }
        }
      }
    }),
  );

  const batch = (await w.batches.doc(batchId).get()).data()!;
  expect(batch.status).toBe('completed');
  expect(w.logger.lines.filter((l) => l.event === 'batchCompleted')).toHaveLength(1);
  expect(w.logger.lines.filter((l) => l.event === 'batchSummaryFullScan')).toEqual([]);
  const failed = (SIZE / 20) * 2; // i % 20 in {1, 2}; the {3} failures were upgraded
  expect(batch).toMatchObject({ completed_jobs: SIZE - failed, failed_jobs: failed });

  // The summary as it was computed before: from every job of the batch.
  const store = createFirestoreJobStore(emulatorFirestore(), w.collections, { counterShards: 16 });
  const reference = summarizeBatch(
    batchId,
    { total_jobs: SIZE, completed_jobs: SIZE - failed, failed_jobs: failed },
    await store.listBatchJobs(batchId),
    { direction: 'higher', rankingSize: 25 },
  );
  const { mean_scores: means, ...summary } = batch.summary as BatchSummary;
  const { mean_scores: referenceMeans, ...expected } = reference;
  expect(summary).toEqual(expected);
  for (const [field, value] of Object.entries(referenceMeans)) {
    if (value === null) expect(means[field as keyof typeof means]).toBeNull();
    else expect(means[field as keyof typeof means]).toBeCloseTo(value, 5);
  }
  expect(summary).toMatchObject({ timeout_jobs: SIZE / 20, cancelled_jobs: 0 });
  // Ties: 1.5 is the best affinity of many jobs, ordered by confidence (none last), then job id.
  expect(summary.ranking).toHaveLength(25);
  expect(summary.ranking.every((r) => r.affinity === 1.5)).toBe(true);
  const confidences = summary.ranking.map((r) => r.confidence ?? -1);
  expect([...confidences].sort((a, b) => b - a)).toEqual(confidences);
});
