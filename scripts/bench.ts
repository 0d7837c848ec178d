/**
 * `npm run bench`: webhook acknowledgements per second and p50/p99 latency for 1 KB and 1.3 MB
 * payloads, side by side with a bare Functions Framework handler in the same run (the ratio is what
 * our verification, validation and publishing cost), then end-to-end latency from webhook received
 * to job document completed through the push subscription. Prints a table.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import type { AddressInfo } from 'node:net';
import { createWebhookHandler } from '../functions/webhook/handler';
import { createLocalBlobStore } from '../shared/adapters/local-files';
import { createTopicPublisher } from '../shared/adapters/pubsub';
import { loadWebhookConfig } from '../shared/config';
import { createLogger } from '../shared/log';
import { sign } from '../shared/signature';
import { startEmulators } from './emulators';
import { projectRoot, startLocalStack } from './local-stack';

const PROJECT = 'demo-omtx-bench';
const SECRET = randomBytes(32).toString('base64');

interface Row {
  scenario: string;
  handler: string;
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  ratio?: string;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function payload(bytes: number, i: number): string {
  const seed = JSON.parse(readFileSync(join(projectRoot(), 'test', 'fixtures', 'seed-success.json'), 'utf8'));
  seed.call_id = `bench-call-${i}`;
  seed.metadata = { job_id: `bench-job-${i}`, batch_id: 'bench-batch' };
  const base = JSON.stringify({ ...seed, result: { ...seed.result, structure_file_base64: '' } }).length;
  seed.result.structure_file_base64 = Buffer.alloc(Math.max(0, Math.floor(((bytes - base) * 3) / 4)), 'A').toString('base64');
  return JSON.stringify(seed);
}

async function load(url: string, bodies: string[], concurrency: number): Promise<{ perSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const t = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-modal-signature': sign(SECRET, body), 'x-modal-timestamp': String(Math.floor(Date.now() / 1000)) },
        body,
      });
      await res.arrayBuffer();
      if (res.status >= 300) throw new Error(`unexpected ${res.status}`);
      latencies.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: bodies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function serve(name: string): Promise<{ url: string; close(): void }> {
  const server = getTestServer(name);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}

async function main(): Promise<void> {
  process.env.METADATA_SERVER_DETECTION = 'none';
  const emulators = await startEmulators(PROJECT);
  Object.assign(process.env, emulators.env);
  const rows: Row[] = [];
  try {
    const pubsub = new PubSub({ projectId: PROJECT });
    const topic = `bench-${randomBytes(3).toString('hex')}`;
    await pubsub.createTopic(topic);
    const quiet = createLogger(() => undefined);
    functions.http('bareWebhook', (req, res) => {
      res.status(202).json({ status: 'accepted', bytes: (req.rawBody ?? Buffer.alloc(0)).length });
    });
    functions.http('modalWebhook', createWebhookHandler({
      config: loadWebhookConfig({ MODAL_WEBHOOK_SECRET: SECRET, COMPLETIONS_TOPIC: topic }),
      publisher: createTopicPublisher(pubsub, topic, { batchWindowMs: 0 }),
      claims: createLocalBlobStore(mkdtempSync(join(tmpdir(), 'omtx-bench-'))),
      clock: () => new Date(),
      logger: quiet,
      version: 'bench',
    }));
    const bare = await serve('bareWebhook');
    const webhook = await serve('modalWebhook');

    for (const [label, bytes, count, concurrency] of [['1 KB', 1024, 2000, 8], ['1.3 MB', 1.3 * 1024 * 1024, 150, 4]] as const) {
      const bodies = Array.from({ length: count }, (_, i) => payload(bytes, i));
      await load(bare.url, bodies.slice(0, 20), concurrency); // warm-up
      await load(webhook.url, bodies.slice(0, 20), concurrency);
      const b = await load(bare.url, bodies, concurrency);
      const w = await load(webhook.url, bodies, concurrency);
      rows.push({ scenario: `ack ${label} ×${count}, c=${concurrency}`, handler: 'bare functions-framework', requests: count, ...b });
      rows.push({
        scenario: `ack ${label} ×${count}, c=${concurrency}`,
        handler: 'modalWebhook (verify+zod+publish)',
        requests: count,
        ...w,
        ratio: `${(w.perSecond / b.perSecond).toFixed(2)}× throughput, ${(w.p50 / b.p50).toFixed(1)}× p50`,
      });
    }
    bare.close();
    webhook.close();
    await pubsub.close();

    // End to end: webhook received → job document completed, through push and the worker.
    const stack = await startLocalStack({ projectId: PROJECT, secret: SECRET, env: { JOBS_COLLECTION: `bench_jobs_${topic}` } });
    try {
      const db = new Firestore({ projectId: PROJECT });
      const n = 100;
      const bodies = Array.from({ length: n }, (_, i) => payload(1024, 10_000 + i));
      const started = performance.now();
      await load(`${stack.webhookUrl}/api/v3/webhooks/modal/completion`, bodies, 4);
      const jobs = db.collection(`bench_jobs_${topic}`);
      let done: number[] = [];
      while (performance.now() - started < 120_000) {
        const snap = await jobs.where('status', '==', 'completed').get();
        done = snap.docs.map((d) => d.get('processing_latency_ms') as number);
        if (done.length >= n) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      done.sort((a, b) => a - b);
      rows.push({ scenario: `end to end ×${n}, c=4`, handler: 'webhook → Pub/Sub push → worker → Firestore', requests: done.length, perSecond: done.length / ((performance.now() - started) / 1000), p50: percentile(done, 50), p99: percentile(done, 99) });
      await db.terminate();
    } finally {
      await stack.stop();
    }
  } finally {
    await emulators.stop();
  }

  const header = ['scenario', 'handler', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'vs bare'];
  const table = rows.map((r) => [r.scenario, r.handler, String(r.requests), r.perSecond.toFixed(0), r.p50.toFixed(1), r.p99.toFixed(1), r.ratio ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  process.stdout.write(['', line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line), ''].join('\n'));
  process.stdout.write('\nPub/Sub and Firestore are the gcloud emulators on this machine; end-to-end latency is the job document\'s processing_latency_ms (completed_at − webhook_received_at).\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
