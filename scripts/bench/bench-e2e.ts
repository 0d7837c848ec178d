/**
 * The bench's end-to-end section, through the whole local stack (`npm start`'s): the latency from
 * webhook to applied job at a steady 50/s, and a hot batch — 1,000 jobs of one batch at once — with the CPU of every process over it.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { DocumentData, Firestore } from '@google-cloud/firestore';
import { createFirestore } from '../../shared/adapters/firestore-documents';
import { startLocalStack, type LocalStack } from '../local/local-stack';
import {
  closedLoop,
  cpuTicks,
  cpuTicksMatching,
  f1,
  openLoop,
  payload,
  percentile,
  PROJECT,
  row,
  SECRET,
  TICKS_PER_SECOND,
} from './bench-kit';
import { COMPLETION_PATH } from '../../shared/contract/routes';

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** The worker's completionApplied lines, collected from its log (so that nothing polls Firestore meanwhile). */
class AppliedLines {
  readonly lines: Array<Record<string, unknown>> = [];

  take(service: string, line: string): void {
    if (service !== 'worker' || !line.includes('"completionApplied"')) return;
    try {
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not JSON
    }
  }

  /** Those of jobs starting with `prefix`, once there are `n` (or the time is up). */
  async of(prefix: string, n: number, timeoutMs: number): Promise<Array<Record<string, unknown>>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mine = this.lines.filter((l) => String(l.job_id).startsWith(prefix));
      if (mine.length >= n || Date.now() > deadline) return mine;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** 50 completions a second, each in no batch: webhook received → job completed. */
async function steadyLatency(url: string, applied: AppliedLines, quick: boolean): Promise<void> {
  // Warm-up: the worker's first completions open its channels; measure only once they are applied.
  await closedLoop(
    url,
    Array.from({ length: 30 }, (_, i) => payload(1024, 70_000 + i)),
    4,
  );
  await applied.of('bench-job-7', 30, 60_000);
  const n = quick ? 100 : 500;
  await openLoop(
    url,
    Array.from({ length: n }, (_, i) => payload(1024, 100_000 + i)),
    50,
  );
  const lines = await applied.of('bench-job-1', n, 60_000);
  const latencies = sorted(lines.map((l) => Number(l.processing_latency_ms)));
  row(
    `end to end at 50/s ×${n} (webhook received → job completed): p50 ms`,
    '',
    f1(percentile(latencies, 50)),
    `${latencies.length}/${n} completed`,
    '< 100',
  );
  row('  p99 ms', '', f1(percentile(latencies, 99)), '', '< 250');
  const own = sorted(lines.map((l) => Number(l.duration_ms)));
  row(
    "  worker's own time per completion: p50 / p99 ms",
    '',
    `${f1(percentile(own, 50))} / ${f1(percentile(own, 99))}`,
    'files, then read + one atomic write',
  );
}

/** A hot batch: `size` jobs of one batch completing at once, and where the CPU goes meanwhile. */
async function hotBatch(
  url: string,
  stack: LocalStack,
  db: Firestore,
  batches: string,
  run: string,
  quick: boolean,
): Promise<void> {
  const size = quick ? 200 : 1000;
  const batchId = `hot-${run}`;
  await db.collection(batches).doc(batchId).set({ total_jobs: size });
  const hot = Array.from({ length: size }, (_, i) => payload(1024, 300_000 + i, batchId));
  // The relay runs in this process, with the load generator.
  const processes = {
    'Firestore emulator': () => cpuTicksMatching('cloud-firestore-emulator'),
    'Pub/Sub emulator': () => cpuTicksMatching('pubsub-emulator'),
    worker: () => cpuTicks(stack.functions.worker.child.pid!),
    webhook: () => cpuTicks(stack.functions.webhook.child.pid!),
    'relay + load generator': () => cpuTicks(process.pid),
  };
  const cpuBefore = Object.fromEntries(Object.entries(processes).map(([k, f]) => [k, f()]));
  const started = Date.now();
  await closedLoop(url, hot, 50);
  const acked = Date.now() - started;
  let batch: DocumentData | undefined;
  while (Date.now() - started < 120_000) {
    batch = (await db.collection(batches).doc(batchId).get()).data();
    if (batch?.status === 'completed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const finalized = Date.now() - started;
  const cpuSeconds = Object.entries(processes).map(([k, f]) => [k, (f() - cpuBefore[k]!) / TICKS_PER_SECOND] as const);
  const exact =
    batch?.status === 'completed' && batch.completed_jobs === size && batch.summary?.completed_jobs === size;
  row(
    `hot batch: ${size} jobs at once (c=50) → finalised, s`,
    '',
    `${(finalized / 1000).toFixed(1)} (acks done at ${(acked / 1000).toFixed(1)})`,
    exact
      ? 'counts exact, finalised once'
      : `NOT EXACT: ${JSON.stringify({ status: batch?.status, completed: batch?.completed_jobs })}`,
    '< 5',
  );
  const total = cpuSeconds.reduce((n, [, v]) => n + v, 0);
  row(
    '  CPU s during the hot batch, by process',
    '',
    cpuSeconds.map(([k, v]) => `${k} ${f1(v)}`).join(', '),
    `${f1(total)} CPU s in ${f1(finalized / 1000)} s on ${cpus().length} cores (${Math.round((total / (finalized / 1000) / cpus().length) * 100)} % busy)`,
  );
}

export async function endToEnd(quick: boolean): Promise<void> {
  const run = randomBytes(3).toString('hex');
  const collections = {
    JOBS_COLLECTION: `bench_jobs_${run}`,
    BATCHES_COLLECTION: `bench_batches_${run}`,
    PIPELINE_COLLECTION_PREFIX: `b${run}_`,
  };
  const applied = new AppliedLines();
  const stack = await startLocalStack({
    projectId: PROJECT,
    secret: SECRET,
    completionsTopic: `bench-completions-${run}`,
    batchEventsTopic: `bench-events-${run}`,
    env: {
      ...collections,
      ...(process.env.CLAIM_CHECK_THRESHOLD_BYTES
        ? { CLAIM_CHECK_THRESHOLD_BYTES: process.env.CLAIM_CHECK_THRESHOLD_BYTES }
        : {}),
    },
    onLog: (service, line) => applied.take(service, line),
  });
  const db = createFirestore(PROJECT, '(default)');
  const url = `${stack.webhookUrl}${COMPLETION_PATH}`;
  try {
    await steadyLatency(url, applied, quick);
    await hotBatch(url, stack, db, collections.BATCHES_COLLECTION, run, quick);
  } finally {
    await db.terminate();
    await stack.stop();
  }
}
