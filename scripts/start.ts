/**
 * `npm start`: the whole pipeline locally on the emulators, ready for a signed curl.
 * One Ctrl-C stops everything, the emulators' Java processes included.
 */
import { startLocalStack } from './local-stack';

const DEFAULT_PROJECT = 'demo-omtx-local';

function printableLog(service: string, line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const ids = ['event', 'reason', 'code', 'call_id', 'job_id', 'batch_id', 'delivery_id', 'status', 'latency_ms', 'duration_ms', 'processing_latency_ms']
      .filter((k) => entry[k] !== undefined)
      .map((k) => `${k}=${String(entry[k])}`)
      .join(' ');
    return `[${service}] ${String(entry.severity ?? '').padEnd(7)} ${String(entry.message ?? '')}  ${ids}`;
  } catch {
    return `[${service}] ${line}`;
  }
}

async function main(): Promise<void> {
  const projectId = process.env.GOOGLE_CLOUD_PROJECT || DEFAULT_PROJECT;
  process.stdout.write(`Starting omtx-modal-webhooks locally (project ${projectId})…\n`);
  const stack = await startLocalStack({
    projectId,
    secret: process.env.MODAL_WEBHOOK_SECRET || undefined,
    webhookPort: Number(process.env.PORT || 8080),
    workerPort: Number(process.env.WORKER_PORT || 8081),
    adminPort: Number(process.env.ADMIN_PORT || 8082),
    reconcileIntervalSeconds: Number(process.env.RECONCILE_INTERVAL_SECONDS || 60),
    resultsDir: process.env.RESULTS_DIR,
    completionsTopic: process.env.COMPLETIONS_TOPIC,
    batchEventsTopic: process.env.BATCH_EVENTS_TOPIC,
    env: Object.fromEntries(
      ['WEBHOOK_TOLERANCE_SECONDS', 'DRY_RUN', 'CLAIM_CHECK_THRESHOLD_BYTES', 'PUBLISH_BATCH_WINDOW_MS', 'MODAL_WEBHOOK_SECRET_PREVIOUS',
        'JOBS_COLLECTION', 'BATCHES_COLLECTION', 'DEAD_LETTERS_COLLECTION', 'PIPELINE_COLLECTION_PREFIX', 'AFFINITY_DIRECTION', 'RANKING_SIZE', 'RESULTS_BUCKET',
        'COMPLETION_MODE', 'STALE_AFTER_SECONDS', 'MODAL_STATUS_URL', 'MODAL_CONTROL_URL', 'MODAL_APPS', 'STATS_FLUSH_SECONDS']
        .filter((k) => process.env[k] !== undefined)
        .map((k) => [k, process.env[k] as string]),
    ),
    onLog: (service, line) => process.stdout.write(printableLog(service, line) + '\n'),
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping functions and emulators…\n`);
    await stack.stop();
    process.stdout.write('stopped.\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const url = `http://localhost:${new URL(stack.webhookUrl).port}`;
  process.stdout.write(`
omtx-modal-webhooks is running.

  webhook        ${url}/api/v3/webhooks/modal/completion   (also POST ${url}/)
  health         ${url}/api/v3/webhooks/modal/health
  worker         ${stack.workerUrl}  ← push subscription on topic ${stack.completionsTopic}
  admin          http://localhost:${new URL(stack.adminUrl).port}/api/v3/webhooks/status   (metrics, active-executions, …: docs/openapi.yaml)
  reconciler     COMPLETION_MODE=${stack.completionMode}, ticks on ${stack.reconcileTopic}
  emulators      PUBSUB_EMULATOR_HOST=${stack.emulators.env.PUBSUB_EMULATOR_HOST} FIRESTORE_EMULATOR_HOST=${stack.emulators.env.FIRESTORE_EMULATOR_HOST}
  results        ${stack.resultsDir}
  batch events   topic ${stack.batchEventsTopic}, subscription ${stack.batchEventsSubscription}
  dead letters   subscription ${stack.deadLetterSubscription} (after 10 failed deliveries) and the dead_letters collection
                 npm run dead-letters -- list --subscription ${stack.deadLetterSubscription}
${stack.secretGenerated ? `
  MODAL_WEBHOOK_SECRET was not set; generated for this run:
    export MODAL_WEBHOOK_SECRET='${stack.secret}'
` : '\n  MODAL_WEBHOOK_SECRET from the environment.\n'}
Send the seed's sample completion, signed (in another shell, with MODAL_WEBHOOK_SECRET exported):
  npm run send-webhook -- --url ${url}/api/v3/webhooks/modal/completion

or with curl:
  BODY='{"call_id":"call-1","status":"success","result":{"affinity":0.64,"confidence":0.51},"metadata":{"job_id":"job-1","batch_id":"batch-1"}}'
  TS=$(date +%s)
  SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$MODAL_WEBHOOK_SECRET" | sed 's/^.*= //')
  curl -i ${url}/api/v3/webhooks/modal/completion -H 'Content-Type: application/json' \\
    -H "X-Modal-Timestamp: $TS" -H "X-Modal-Signature: sha256=$SIG" -d "$BODY"

Read the job back:
  FIRESTORE_EMULATOR_HOST=${stack.emulators.env.FIRESTORE_EMULATOR_HOST} npm run show -- jobs/job-1
  curl localhost:${new URL(stack.adminUrl).port}/api/v3/webhooks/jobs/job-1

Operate it:
  curl -X POST localhost:${new URL(stack.adminUrl).port}/api/v3/webhooks/modal/test      # a signed test delivery, end to end
  curl localhost:${new URL(stack.adminUrl).port}/api/v3/webhooks/metrics

Ctrl-C stops everything.
`);
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
