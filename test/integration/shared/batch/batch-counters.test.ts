/**
 * Sharded batch counters on the Firestore emulator: completions write the batch's counter shards,
 * not its document; the counts are exact (the shards' sums), the batch finalises once, and its
 * document's public counts are exact at completion.
 */
import { successPayload } from '../../../support/fixtures';
import { completionMessage, testWorker } from '../../../support/worker';

jest.setTimeout(120_000);

it('counts a batch in its shards, writes its document only to roll up and to complete, and finalises once', async () => {
  // A long interval: only the first completion's write-back happens while the batch runs.
  const w = testWorker({ BATCH_COUNTS_INTERVAL_MS: '60000', BATCH_COUNTER_SHARDS: '8' });
  const batch = w.batches.doc('sharded');
  await batch.set({ total_jobs: 60 });
  const writes: number[] = [];
  const unsubscribe = batch.onSnapshot((snap) => writes.push(snap.updateTime?.toMillis() ?? 0));
  try {
    const n = 59;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          const i = next++;
          await w.handleMessage(
            completionMessage(
              successPayload({ call_id: `sh-c${i}`, job_id: `sh-j${i}`, batch_id: 'sharded' }, { affinity: i }),
            ),
          );
        }
      }),
    );
    const shards = await batch.collection('counters').get();
    expect(shards.size).toBeGreaterThan(1);
    expect(shards.size).toBeLessThanOrEqual(8);
    expect(shards.docs.reduce((sum, d) => sum + Number(d.get('completed') ?? 0), 0)).toBe(n);
    const running = (await batch.get()).data()!;
    expect(running.status).toBeUndefined();
    expect(running.completed_jobs).toBeLessThan(n); // the document lags: completions did not write it

    await w.handleMessage(
      completionMessage(successPayload({ call_id: 'sh-c59', job_id: 'sh-j59', batch_id: 'sharded' }, { affinity: 59 })),
    );
    await new Promise((r) => setTimeout(r, 500));
    const done = (await batch.get()).data()!;
    expect(done).toMatchObject({
      status: 'completed',
      completed_jobs: 60,
      failed_jobs: 0,
      summary: { completed_jobs: 60, best_job: { job_id: 'sh-j59' } },
    });
    expect(w.logger.lines.filter((l) => l.event === 'batchCompleted')).toHaveLength(1);
    // Written: set total_jobs, one count write-back, the finalisation claim, completion, event flag.
    expect(new Set(writes).size).toBeLessThanOrEqual(6);
  } finally {
    unsubscribe();
  }
});
