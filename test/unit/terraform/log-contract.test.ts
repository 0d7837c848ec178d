/**
 * The log-based metrics (and the SLOs and alerts built on them) match on fields the code logs: every
 * `jsonPayload.event="X"` a metric filters on, and every `jsonPayload.Y` it filters or extracts,
 * appears in the lines the webhook and the worker actually write while they handle real requests
 * and messages. A renamed event or field would otherwise leave an SLO counting nothing, silently.
 * The reconciler's events are checked against its source (its behaviour is tested on the emulator).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { createCompletionWorker, type PubSubMessage } from '../../../functions/worker/handler';
import { createLocalBlobStore } from '../../../shared/adapters/local-files';
import { loadWebhookConfig, loadWorkerConfig } from '../../../shared/config/config';
import { deliveryId } from '../../../shared/contract/delivery';
import { encodeCompletion } from '../../../shared/contract/messages';
import { completionPayloadSchema } from '../../../shared/contract/schemas';
import { memoryLogger, type LogFields } from '../../../shared/observability/log';
import type { Publisher } from '../../../shared/ports';
import { postSigned } from '../../support/http';
import { memoryBlobStore, memoryJobStore } from '../../support/memory-job-store';
import { serveWebhook } from '../../support/webhook';

const terraform = join(__dirname, '..', '..', '..', 'terraform');
const SECRET = 'whsec_bG9nLWNvbnRyYWN0LXRlc3Qta2V5a2tra2tra2tra2s=';

interface MetricUse {
  metric: string;
  service: 'webhook' | 'worker' | 'reconciler';
  event: string;
  fields: string[];
}

/** The log-based metrics, from the maps terraform/monitoring.tf builds them from (log_counters, log_latencies). */
async function metricUses(): Promise<MetricUse[]> {
  let locals: Record<string, any> = {};
  for (const file of readdirSync(terraform).filter((f) => f.endsWith('.tf'))) {
    const json = await parse(file, readFileSync(join(terraform, file), 'utf8'));
    for (const l of (json.locals ?? []) as Array<Record<string, unknown>>) locals = { ...locals, ...l };
  }
  const metrics: Array<[string, { logs: string; match: string; labels?: Record<string, string>; field?: string }]> = [
    ...Object.entries<any>(locals.log_counters),
    ...Object.entries<any>(locals.log_latencies),
  ];
  const uses: MetricUse[] = [];
  for (const [name, metric] of metrics) {
    const service = /local\.(webhook|worker|reconciler)_logs/.exec(metric.logs)?.[1] as MetricUse['service'];
    const event = /jsonPayload\.event=\\?"(\w+)\\?"/.exec(metric.match)?.[1];
    if (!service || !event) continue; // not built on our own log lines (severity only)
    const text = `${metric.match} ${Object.values(metric.labels ?? {}).join(' ')} ${metric.field ? `jsonPayload.${metric.field}` : ''}`;
    const fields = [...text.matchAll(/jsonPayload\.(\w+)/g)].map((m) => m[1]!).filter((f) => f !== 'event');
    uses.push({ metric: name, service, event, fields: [...new Set(fields)] });
  }
  return uses;
}

function message(payload: Record<string, unknown>): PubSubMessage {
  const parsed = completionPayloadSchema.parse(payload);
  const { data, attributes } = encodeCompletion(Buffer.from(JSON.stringify(payload)), parsed, {
    deliveryId: deliveryId(parsed.call_id, parsed.status),
    receivedAt: new Date(Date.now() - 50),
    source: 'webhook',
  });
  return { messageId: parsed.call_id, data: data.toString('base64'), attributes };
}

/** What the webhook logs for an accepted and a refused request. */
async function webhookLines(): Promise<LogFields[]> {
  const dir = mkdtempSync(join(tmpdir(), 'omtx-log-contract-'));
  const logger = memoryLogger();
  const publisher: Publisher = { topic: 't', publish: async () => '1' };
  const served = await serveWebhook({
    config: loadWebhookConfig({ MODAL_WEBHOOK_SECRET: SECRET, RESULTS_DIR: dir }),
    publisher,
    claims: createLocalBlobStore(dir),
    clock: () => new Date(),
    logger,
    version: 'test',
  });
  try {
    const body = JSON.stringify({
      call_id: 'lc-1',
      status: 'success',
      result: { affinity: 1 },
      metadata: { job_id: 'lc-j1' },
    });
    expect((await postSigned(served.url, body, { secret: SECRET })).status).toBe(202);
    expect((await postSigned(served.url, body, { secret: SECRET, signature: 'sha256=00' })).status).toBe(401);
  } finally {
    await served.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return logger.lines;
}

/** What the worker logs for a batch that completes, and for a message it can never process. */
async function workerLines(): Promise<LogFields[]> {
  const jobs = memoryJobStore();
  const logger = memoryLogger();
  const worker = createCompletionWorker({
    config: loadWorkerConfig({}),
    jobs,
    results: memoryBlobStore(),
    clock: () => new Date(),
    logger,
  });
  jobs.batches.set('lc-b', { total_jobs: 2 });
  await worker.handleMessage(
    message({
      call_id: 'lc-c1',
      status: 'success',
      result: { affinity: 0.5 },
      metadata: { job_id: 'lc-j1', batch_id: 'lc-b' },
    }),
  );
  await worker.handleMessage(
    message({ call_id: 'lc-c2', status: 'failure', metadata: { job_id: 'lc-j2', batch_id: 'lc-b' } }),
  );
  await worker.handleMessage({ messageId: 'poison', data: Buffer.from('not json').toString('base64'), attributes: {} });
  return logger.lines;
}

it('every log-based metric filters on events and fields the webhook and the worker log', async () => {
  const uses = await metricUses();
  expect(uses.map((u) => u.metric).sort()).toEqual(
    expect.arrayContaining(['finalization', 'completion', 'latency', 'stale', 'rejections', 'passes']),
  );
  const lines: Record<MetricUse['service'], LogFields[]> = {
    webhook: await webhookLines(),
    worker: await workerLines(),
    reconciler: [],
  };
  for (const use of uses.filter((u) => u.service !== 'reconciler')) {
    const matching = lines[use.service].filter((l) => l.event === use.event);
    expect([use.metric, matching.length > 0]).toEqual([use.metric, true]);
    for (const field of use.fields)
      expect([use.metric, field, matching.some((l) => l[field] !== undefined)]).toEqual([use.metric, field, true]);
  }
  const latency = lines.worker.find((l) => l.event === 'batchCompleted')!;
  expect(latency.finalization_latency_ms).toEqual(expect.any(Number));
  expect(latency.finalization_latency_ms as number).toBeGreaterThanOrEqual(0);
});

it('the reconciler logs the events its metrics count', async () => {
  const source = readdirSync(join(__dirname, '..', '..', '..', 'functions', 'reconciler'))
    .map((f) => readFileSync(join(__dirname, '..', '..', '..', 'functions', 'reconciler', f), 'utf8'))
    .join('\n');
  for (const use of (await metricUses()).filter((u) => u.service === 'reconciler')) {
    expect([use.metric, new RegExp(`logger\\.log\\('(INFO|WARNING|ERROR)', '${use.event}'`).test(source)]).toEqual([
      use.metric,
      true,
    ]);
  }
});
