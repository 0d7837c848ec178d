/**
 * Batches of 1,000 to 100,000 jobs through the worker's use-cases against the Firestore emulator
 * (the webhook and Pub/Sub are measured elsewhere; here the question is what a completion and a
 * finalisation cost as the batch and its shard count grow). Every message's Firestore operations
 * are counted on their own (firestore-ops.ts); the finalising message is the one that logged
 * `batchCompleted`. Each batch must come out exact and finalised once, with the summary the full
 * scan over every job gives.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createCompletionWorker } from '../../functions/worker/handler';
import { createFirestoreJobStore } from '../../shared/adapters/firestore';
import { createFirestore } from '../../shared/adapters/firestore-documents';
import { createLocalBlobStore } from '../../shared/adapters/local-files';
import { summarizeBatch, type BatchSummary } from '../../shared/batch/batch';
import { loadWorkerConfig } from '../../shared/config/config';
import { encodeOwnCompletion } from '../../shared/contract/messages';
import { completionPayloadSchema } from '../../shared/contract/schemas';
import { createLogger } from '../../shared/observability/log';
import type { JobStore } from '../../shared/ports';
import { f1, PROJECT } from './bench-kit';
import { billedReads, countOps, currentOps, install, zeroOps, type Ops } from './firestore-ops';

export type Row = (figure: string, bare: string, webhook: string, ratio: string, goal?: string) => void;

/** Above this, the full-scan reference summary is not computed (it would read every job into the bench). */
const FULL_SCAN_CHECK_MAX = 10_000;

interface Run {
  size: number;
  shards: number;
  seconds: number;
  perCompletion: Ops;
  worstCompletion: Ops;
  finalisation: Ops;
  rollups: number;
  exact: string | undefined;
  rankingSize: number;
}

const mean = (all: Ops[]): Ops => {
  const sum = zeroOps();
  for (const o of all) for (const k of Object.keys(sum) as Array<keyof Ops>) sum[k] += o[k];
  for (const k of Object.keys(sum) as Array<keyof Ops>) sum[k] = sum[k] / Math.max(1, all.length);
  return sum;
};

/** Completion `i` of a `size`-job batch: one in ten failed, the others with scores spread over the batch. */
function scaleMessage(i: number, size: number, batchId: string) {
  const failed = i % 10 === 0;
  const p = completionPayloadSchema.parse({
    call_id: `scale-call-${i}`,
    status: failed ? 'failure' : 'success',
    ...(failed
      ? {}
      : { result: { affinity: ((i * 7919) % size) / size, confidence: (i % 97) / 97, ptm_score: (i % 13) / 13 } }),
    metadata: { job_id: `scale-job-${i}`, batch_id: batchId },
  });
  const m = encodeOwnCompletion(p, 'webhook', new Date());
  return { messageId: `scale-${i}`, data: m.data.toString('base64'), attributes: m.attributes };
}

/** Delivers messages 0…size-1, 32 at once, each until it succeeds (as Pub/Sub redelivers); the Firestore operations of each. */
async function deliverAll<M>(
  size: number,
  message: (i: number) => M,
  handle: (m: M) => Promise<unknown>,
): Promise<Ops[]> {
  const perMessage: Ops[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < size) {
        const m = message(next++);
        const ops = zeroOps();
        perMessage.push(ops);
        for (;;) {
          try {
            await countOps(ops, () => handle(m));
            break;
          } catch {
            // transient: redelivered, as Pub/Sub would (its operations still count)
          }
        }
      }
    }),
  );
  return perMessage;
}

/**
 * Undefined when the batch was counted exactly and finalised once and (up to FULL_SCAN_CHECK_MAX jobs)
 * its summary equals the full scan's; else what differs.
 */
async function verdict(
  batch: FirebaseFirestore.DocumentData | undefined,
  size: number,
  finalisations: number,
  fullScan: () => Promise<BatchSummary>,
): Promise<string | undefined> {
  const exact =
    batch?.status === 'completed' &&
    batch.completed_jobs === size - size / 10 &&
    batch.failed_jobs === size / 10 &&
    finalisations === 1;
  if (!exact) {
    return `NOT EXACT: ${JSON.stringify({ status: batch?.status, completed: batch?.completed_jobs, failed: batch?.failed_jobs, finalised: finalisations })}`;
  }
  if (size > FULL_SCAN_CHECK_MAX) return undefined;
  const { mean_scores: means, ...summary } = batch.summary as BatchSummary;
  const { mean_scores: referenceMeans, ...expected } = await fullScan();
  const meansAgree = Object.entries(referenceMeans).every(([k, v]) =>
    v === null ? means[k as keyof typeof means] === null : Math.abs(v - (means[k as keyof typeof means] ?? NaN)) < 1e-6,
  );
  return isDeepStrictEqual(summary, expected) && meansAgree ? undefined : 'SUMMARY DIFFERS from the full scan';
}

async function runBatch(size: number, shards: number): Promise<Run> {
  const run = randomBytes(3).toString('hex');
  const config = loadWorkerConfig({
    JOBS_COLLECTION: `scale_jobs_${run}`,
    BATCHES_COLLECTION: `scale_batches_${run}`,
    PIPELINE_COLLECTION_PREFIX: `scale${run}_`,
    RESULTS_DIR: join(tmpdir(), `omtx-bench-${run}`),
    BATCH_COUNTER_SHARDS: String(shards),
  });
  const db = createFirestore(PROJECT, '(default)');
  const store = createFirestoreJobStore(db, config.collections, { counterShards: shards });
  let batchDocWrites = 0;
  const counted: JobStore = {
    ...store,
    rollupBatchCounts: async (...args) => {
      const wrote = await store.rollupBatchCounts(...args);
      if (wrote) batchDocWrites++;
      return wrote;
    },
  };
  const finalisers = new Set<Ops>();
  const worker = createCompletionWorker({
    config,
    jobs: counted,
    clock: () => new Date(),
    results: createLocalBlobStore(config.results.kind === 'local' ? config.results.dir : tmpdir()),
    // The log line is written inside the finalising message's own async context.
    logger: createLogger((line) => {
      const ops = currentOps();
      if (ops && line.includes('"batchCompleted"')) finalisers.add(ops);
    }),
  });
  const batchId = `scale-${run}`;
  await db.collection(config.collections.batches).doc(batchId).set({ total_jobs: size });
  const message = (i: number) => scaleMessage(i, size, batchId);
  const started = performance.now();
  const perMessage = await deliverAll(size, message, (m) => worker.handleMessage(m));
  const seconds = (performance.now() - started) / 1000;
  const batch = (await db.collection(config.collections.batches).doc(batchId).get()).data();
  const completions = perMessage.filter((o) => !finalisers.has(o));
  const exact = await verdict(batch, size, finalisers.size, () => {
    // The summary as the full scan over every job computes it (not counted: a check, not the work).
    return store
      .listBatchJobs(batchId)
      .then((jobs) =>
        summarizeBatch(batchId, batch!, jobs, { direction: config.affinityDirection, rankingSize: config.rankingSize }),
      );
  });
  const worst = completions.reduce((w, o) => (billedReads(o) > billedReads(w) ? o : w), zeroOps());
  await db.terminate();
  return {
    size,
    shards,
    seconds,
    perCompletion: mean(completions),
    worstCompletion: worst,
    finalisation: [...finalisers][0] ?? zeroOps(),
    rollups: batchDocWrites,
    exact,
    rankingSize: config.rankingSize,
  };
}

const f2 = (n: number) => n.toFixed(2);
const describe = (o: Ops) =>
  `${f2(billedReads(o))} reads (${f2(o.docReads)} doc, ${f2(o.aggregations)} agg, ${f2(o.queries)} queries → ${f2(o.queryDocs)} docs), ${f2(o.writes)} writes`;

/**
 * The scale rows: per completion and per finalisation, for every size × shard count. `sizes` and
 * `shardCounts` come from the bench's flags (--quick: 1,000 only; --huge adds 100,000 × 100).
 */
export async function batchScale(row: Row, plan: Array<{ size: number; shards: number }>): Promise<Run[]> {
  // Here, not inside a completion, where a failure would be taken for the worker's own.
  install();
  const runs: Run[] = [];
  for (const { size, shards } of plan) {
    const r = await runBatch(size, shards);
    runs.push(r);
    const base = runs[0]!;
    const label = `${size.toLocaleString('en')}-job batch, ${shards} shards`;
    row(
      `${label} (worker on the emulator, 32 at once)`,
      '',
      `${f1(r.seconds)} s, ${(size / r.seconds).toFixed(0)}/s`,
      r.exact ??
        (size <= FULL_SCAN_CHECK_MAX
          ? 'counts exact, finalised once, summary = full scan'
          : 'counts exact, finalised once (summary not compared)'),
    );
    row(
      '  Firestore per completion (mean)',
      '',
      describe(r.perCompletion),
      `${f2(billedReads(r.perCompletion) / billedReads(base.perCompletion))}× the ${base.size.toLocaleString('en')}/${base.shards} row`,
      'constant in size and shards',
    );
    row('  Firestore per completion (worst)', '', describe(r.worstCompletion), '', '');
    row(
      '  Firestore for the finalising message',
      '',
      describe(r.finalisation),
      `${f2(billedReads(r.finalisation) / billedReads(base.finalisation))}× the ${base.size.toLocaleString('en')}/${base.shards} row`,
      `no read per job (ranking ≤ ${r.rankingSize} docs)`,
    );
    row(
      '  count write-backs to the batch document while it ran',
      '',
      `${r.rollups} in ${f1(r.seconds)} s (then 1 claim, 1 completion)`,
      `${f2(r.rollups / r.seconds)}/s`,
      '≤ 1/s',
    );
  }
  return runs;
}
