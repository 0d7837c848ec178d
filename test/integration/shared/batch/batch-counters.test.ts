/**
 * Sharded batch counters on the Firestore emulator: completions write the batch's counter shards,
 * not its document; the counts are exact (the shards' sums), the batch finalises once, and its
 * document's public counts are exact at completion.
 */
import { FieldValue, type DocumentData, type DocumentReference } from '@google-cloud/firestore';
import { counterShard } from '../../../../shared/batch/batch-counters';
import { failurePayload, successPayload } from '../../../support/fixtures';
import { until } from '../../../support/until';
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

/** Job ids of a batch that land in the given counter shards, in order, with their shard. */
function jobsIn(prefix: string, wanted: number[], shards: number): Array<{ job: string; shard: number }> {
  const out: Array<{ job: string; shard: number }> = [];
  for (let i = 0; out.length < wanted.length; i++) {
    const shard = counterShard(`${prefix}-j${i}`, shards);
    if (shard === wanted[out.length]) out.push({ job: `${prefix}-j${i}`, shard });
  }
  return out;
}

/** Rewrites a shard as a version before this one left it: a counter only where a job moved it. */
async function asLegacy(shard: DocumentReference): Promise<void> {
  const data = (await shard.get()).data()!;
  const zero = Object.fromEntries(
    ['completed', 'failed'].filter((f) => data[f] === 0).map((f) => [f, FieldValue.delete()]),
  );
  if (Object.keys(zero).length) await shard.update(zero);
}

async function completedBatch(batch: DocumentReference): Promise<DocumentData> {
  return until(
    'the batch completed',
    async () => {
      const data = (await batch.get()).data();
      return data?.status === 'completed' ? data : undefined;
    },
    20_000,
  );
}

/** Two workers over the same collections: two revisions of one deployment. */
function revisions(): [ReturnType<typeof testWorker>, ReturnType<typeof testWorker>] {
  const suffix = Math.random().toString(36).slice(2, 8);
  const env = {
    BATCH_COUNTER_SHARDS: '4',
    JOBS_COLLECTION: `jobs_${suffix}`,
    BATCHES_COLLECTION: `batches_${suffix}`,
    PIPELINE_COLLECTION_PREFIX: `p${suffix}_`,
  };
  return [testWorker(env), testWorker(env)];
}

const send = (w: ReturnType<typeof testWorker>, batchId: string, job: string, failed = false) => {
  const ids = { call_id: `${job}-call`, job_id: job, batch_id: batchId };
  return w.handleMessage(completionMessage(failed ? failurePayload(ids) : successPayload(ids)));
};

it('finishes a batch whose shards an earlier version wrote, and gives each the counter it lacked', async () => {
  const [before, after] = revisions();
  const batch = before.batches.doc('legacy-shards');
  await batch.set({ total_jobs: 8 });
  for (let i = 0; i < 6; i++) await send(before, 'legacy-shards', `lg-j${i}`, i % 3 === 2);
  const shards = batch.collection('counters');
  for (const d of (await shards.get()).docs) await asLegacy(d.ref);
  expect((await shards.get()).docs.some((d) => d.get('failed') === undefined)).toBe(true);
  // Deployed: a new worker takes the last two jobs, and the batch completes with all eight counted.
  await send(after, 'legacy-shards', 'lg-j6');
  await send(after, 'legacy-shards', 'lg-j7');
  expect(await completedBatch(batch)).toMatchObject({
    completed_jobs: 6,
    failed_jobs: 2,
    summary: { completed_jobs: 6, failed_jobs: 2 },
  });
  for (const d of (await shards.get()).docs) {
    expect(typeof d.get('completed')).toBe('number');
    expect(typeof d.get('failed')).toBe('number');
  }
});

it('counts a shard that an older revision created during a deploy, after this one had read the batch', async () => {
  const [w, older] = revisions();
  const batch = w.batches.doc('mixed-revisions');
  // Fewer jobs than shards: the batch is counted exactly every time (no shard is created ahead).
  await batch.set({ total_jobs: 3 });
  const [a, b, c] = jobsIn('mx', [0, 2, 1], 4);
  await send(w, 'mixed-revisions', a!.job);
  // An older revision applies the job of shard 2, creating that shard with one counter.
  await send(older, 'mixed-revisions', b!.job, true);
  await asLegacy(batch.collection('counters').doc('2'));
  await send(w, 'mixed-revisions', c!.job);
  expect(await completedBatch(batch)).toMatchObject({ completed_jobs: 2, failed_jobs: 1 });
});

it('creates every shard of a batch with both counters the first time it counts it, when the batch has enough jobs', async () => {
  const [w] = revisions();
  const batch = w.batches.doc('all-shards');
  await batch.set({ total_jobs: 40 });
  await send(w, 'all-shards', 'as-j0');
  // No shard is left for an older revision to create with one counter: the one aggregation is exact.
  const shards = (await batch.collection('counters').get()).docs;
  expect(shards.map((d) => d.id).sort()).toEqual(['0', '1', '2', '3']);
  for (const d of shards) expect([typeof d.get('completed'), typeof d.get('failed')]).toEqual(['number', 'number']);
  expect(shards.reduce((n, d) => n + (d.get('completed') as number), 0)).toBe(1);
});
