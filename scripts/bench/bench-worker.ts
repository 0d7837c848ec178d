/**
 * The bench's worker section: what the real worker (`processCompletion`) costs per completion beside
 * a bare worker that decodes the message and makes one read and one commit (bench-bare-worker.ts),
 * each served in its own process and pushed the same messages directly, as Pub/Sub push would; and
 * the worker's peak memory taking 16 completions of 5 MiB at once (its deployed concurrency).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOwnCompletion } from '../../shared/contract/messages';
import { completionPayloadSchema } from '../../shared/contract/schemas';
import { pushBody } from '../local/push-relay';
import {
  cpuTicks,
  payload,
  peakRssMiB,
  PROJECT,
  range,
  row,
  TICKS_PER_SECOND,
  baseline,
  serveMeasured,
  type Measured,
} from './bench-kit';

const serveWorker = (env: Record<string, string>) => serveMeasured('processCompletion', 'cloudevent', env);
const serveBareWorker = (env: Record<string, string>) =>
  serveMeasured('bareWorker', 'cloudevent', env, { source: baseline('bench-bare-worker.js') });

/** Completion `i` of a batch, pushed as Pub/Sub push delivers it: one in ten failed. */
function pushed(i: number, batchId: string, body?: string): string {
  const p = body
    ? completionPayloadSchema.parse(JSON.parse(body))
    : completionPayloadSchema.parse({
        call_id: `w-call-${batchId}-${i}`,
        status: i % 10 === 0 ? 'failure' : 'success',
        ...(i % 10 === 0 ? {} : { result: { affinity: (i % 97) / 97, confidence: (i % 13) / 13 } }),
        metadata: { job_id: `w-job-${batchId}-${i}`, batch_id: batchId },
      });
  const m = encodeOwnCompletion(p, 'webhook', new Date());
  return pushBody(
    {
      ackId: '',
      id: `w-${batchId}-${i}`,
      data: m.data,
      attributes: m.attributes,
      publishTime: new Date().toISOString(),
      deliveryAttempt: 1,
    },
    `projects/${PROJECT}/subscriptions/bench`,
  );
}

/**
 * Pushes every body, `concurrency` at once, each until it is acknowledged (2xx), as Pub/Sub
 * redelivers — to the path production's push subscriptions use (terraform/pubsub.tf), from which the
 * framework takes the topic (elsewhere it writes two warnings per message).
 */
async function pushAll(url: string, bodies: string[], concurrency: number): Promise<void> {
  const endpoint = `${url}/projects/${PROJECT}/topics/bench`;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        for (;;) {
          const res = await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
          if (res.ok) break;
        }
      }
    }),
  );
}

async function cpuPerMessage(s: Measured, bodies: string[]): Promise<number> {
  const cpu = cpuTicks(s.fn.child.pid!);
  await pushAll(s.url, bodies, 32);
  return ((cpuTicks(s.fn.child.pid!) - cpu) * 1000) / TICKS_PER_SECOND / bodies.length;
}

/** CPU per completion of a 1,000-job batch, real and bare, over `rounds` rounds of fresh batches. */
async function cpuRows(real: Measured, bare: Measured, size: number, rounds: number): Promise<void> {
  const runs: { real: number[]; bare: number[] } = { real: [], bare: [] };
  for (let r = -1; r < rounds; r++) {
    for (const [name, s] of [
      ['bare', bare],
      ['real', real],
    ] as const) {
      const batchId = `${name}-${r}-${randomBytes(2).toString('hex')}`;
      const bodies = Array.from({ length: size }, (_, i) => pushed(i, batchId));
      const run = await cpuPerMessage(s, bodies);
      if (r >= 0) runs[name].push(run); // round -1 warms both up
    }
  }
  row(
    `worker CPU ms per completion, ${size.toLocaleString('en')}-job batch, 32 at once (baseline: the bare worker)`,
    range(runs.bare),
    range(runs.real),
    `${range(runs.real.map((x, i) => x / runs.bare[i]!))}× the bare worker`,
  );
}

/**
 * Peak RSS of fresh workers of each kind taking `n` completions of 5 MiB at once: its deployed
 * concurrency, and the largest body the webhook publishes inline (CLAIM_CHECK_THRESHOLD_BYTES).
 * `processes` fresh pairs in turn; the row ranges their peaks.
 */
async function memoryRow(env: Record<string, string>, n: number, processes: number): Promise<void> {
  const seed = JSON.parse(payload(5 * 1024 * 1024 - 8192, 0)) as Record<string, unknown>;
  const peaks = { bare: [] as number[], real: [] as number[] };
  const idles = { bare: [] as number[], real: [] as number[] };
  let applied = 0;
  for (let p = 0; p < processes; p++) {
    const fresh = { bare: await serveBareWorker(env), real: await serveWorker(env) };
    try {
      for (const kind of ['bare', 'real'] as const) {
        const s = fresh[kind];
        idles[kind].push(peakRssMiB(s.fn.child.pid!));
        writeFileSync(`/proc/${s.fn.child.pid!}/clear_refs`, '5');
        const bodies = Array.from({ length: n }, (_, i) => {
          const id = `${kind}-${p}-${i}`;
          return pushed(
            i,
            'mem',
            JSON.stringify({ ...seed, call_id: `mem-call-${id}`, metadata: { job_id: `mem-job-${id}` } }),
          );
        });
        await pushAll(s.url, bodies, n);
        peaks[kind].push(peakRssMiB(s.fn.child.pid!));
      }
      // The real worker's lines travel over a pipe: wait (bounded) for all of them.
      for (let waited = 0; fresh.real.applied() < n && waited < 5000; waited += 100)
        await new Promise((r) => setTimeout(r, 100));
      applied += fresh.real.applied();
    } finally {
      await Promise.all([fresh.bare.fn.stop(), fresh.real.fn.stop()]);
    }
  }
  row(
    `worker peak RSS MiB, ${n} completions of 5 MiB at once, in each of ${processes} fresh processes (baseline: the bare worker)`,
    `${range(peaks.bare, 1)} (idle ${range(idles.bare, 1)})`,
    `${range(peaks.real, 1)} (idle ${range(idles.real, 1)})`,
    `${applied}/${n * processes} applied`,
    '< 768 (75 % of 1 GiB)',
  );
}

export async function workerCost(quick: boolean, emulatorEnv: Record<string, string>): Promise<void> {
  const run = randomBytes(3).toString('hex');
  const env = {
    ...emulatorEnv,
    GOOGLE_CLOUD_PROJECT: PROJECT,
    METADATA_SERVER_DETECTION: 'none',
    JOBS_COLLECTION: `wjobs_${run}`,
    BATCHES_COLLECTION: `wbatches_${run}`,
    PIPELINE_COLLECTION_PREFIX: `w${run}_`,
    RESULTS_DIR: join(tmpdir(), `omtx-bench-worker-${run}`),
    NODE_ENV: 'production',
  };
  const [real, bare] = await Promise.all([serveWorker(env), serveBareWorker(env)]);
  try {
    await cpuRows(real, bare, quick ? 300 : 1000, quick ? 2 : 3);
  } finally {
    await Promise.all([real.fn.stop(), bare.fn.stop()]);
  }
  await memoryRow(env, 16, quick ? 2 : 3);
}
