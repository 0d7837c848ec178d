/**
 * `npm start`: the whole pipeline locally on the emulators, ready for a signed curl.
 * One Ctrl-C stops everything, the emulators' Java processes included.
 *
 * A restart changes nothing a shell relies on: the generated secret is kept in .data/secret, the
 * emulators use fixed ports (8085 Pub/Sub, 8086 Firestore), and Firestore's data is exported to
 * .data/firestore on stop and loaded again on start. `npm start -- --fresh` starts with empty
 * Firestore data and results instead (the secret stays).
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalStack } from './local-stack';
import { dataDir, lastLocalState, localSecret, removeLocalState, writeLocalState } from './local-state';
import { describePortHolder, portIsFree } from './ports';

const DEFAULT_PROJECT = 'demo-omtx-local';
const PUBSUB_PORT = 8085;
const FIRESTORE_PORT = 8086;

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

/** Fails with one line when the stack is already running, or when a port it needs is taken. */
async function preflight(ports: Record<'webhook' | 'worker' | 'admin' | 'pubsub' | 'firestore', number>): Promise<void> {
  const last = lastLocalState();
  if (last?.alive) {
    fail(`npm start is already running (pid ${last.state.pid}, since ${last.state.startedAt}); stop it first (Ctrl-C in its terminal, or kill ${last.state.pid})`);
  }
  if (last) {
    process.stdout.write(`note: the last npm start (pid ${last.state.pid}) did not stop cleanly; its .data/local-stack.json was stale and is replaced\n`);
    removeLocalState();
  }
  const needed: Array<[string, number, string]> = [
    ['webhook', ports.webhook, 'PORT'],
    ['worker', ports.worker, 'WORKER_PORT'],
    ['admin', ports.admin, 'ADMIN_PORT'],
    ...(process.env.PUBSUB_EMULATOR_HOST ? [] : [['Pub/Sub emulator', ports.pubsub, 'PUBSUB_EMULATOR_PORT'] as [string, number, string]]),
    ...(process.env.FIRESTORE_EMULATOR_HOST ? [] : [['Firestore emulator', ports.firestore, 'FIRESTORE_EMULATOR_PORT'] as [string, number, string]]),
  ];
  for (const [what, port, variable] of needed) {
    if (!(await portIsFree(port))) fail(`port ${port} (${what}) is in use by ${describePortHolder(port)}; stop that process or set ${variable}`);
  }
}

function fail(line: string): never {
  process.stderr.write(`npm start: ${line}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { fresh: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write('usage: npm start [-- --fresh]\n  --fresh  start with empty Firestore data and results (the secret in .data/secret stays)\n');
    return;
  }
  const projectId = process.env.GOOGLE_CLOUD_PROJECT || DEFAULT_PROJECT;
  const firestoreDataDir = join(dataDir(), 'firestore');
  const resultsDir = process.env.RESULTS_DIR ?? join(dataDir(), 'results');
  if (values.fresh) {
    rmSync(firestoreDataDir, { recursive: true, force: true });
    rmSync(resultsDir, { recursive: true, force: true });
  }
  const ports = {
    webhook: Number(process.env.PORT || 8080),
    worker: Number(process.env.WORKER_PORT || 8081),
    admin: Number(process.env.ADMIN_PORT || 8082),
    pubsub: Number(process.env.PUBSUB_EMULATOR_PORT || PUBSUB_PORT),
    firestore: Number(process.env.FIRESTORE_EMULATOR_PORT || FIRESTORE_PORT),
  };
  await preflight(ports);
  const fromEnv = process.env.MODAL_WEBHOOK_SECRET?.trim();
  const saved = fromEnv ? undefined : localSecret();
  process.stdout.write(`Starting omtx-modal-webhooks locally (project ${projectId})…\n`);
  const stack = await startLocalStack({
    projectId,
    secret: fromEnv || saved!.secret,
    emulatorOptions: {
      ports: { pubsub: ports.pubsub, firestore: ports.firestore },
      firestoreDataDir,
    },
    webhookPort: ports.webhook,
    workerPort: ports.worker,
    adminPort: ports.admin,
    reconcileIntervalSeconds: Number(process.env.RECONCILE_INTERVAL_SECONDS || 60),
    resultsDir,
    completionsTopic: process.env.COMPLETIONS_TOPIC,
    batchEventsTopic: process.env.BATCH_EVENTS_TOPIC,
    env: {
      // The configure step's commands read the secret where it lives here, never print it.
      SECRET_READ_COMMAND: fromEnv ? 'printenv MODAL_WEBHOOK_SECRET' : `cat '${resolve(dataDir(), 'secret')}'`,
      ...Object.fromEntries(
        ['WEBHOOK_TOLERANCE_SECONDS', 'DRY_RUN', 'CLAIM_CHECK_THRESHOLD_BYTES', 'PUBLISH_BATCH_WINDOW_MS', 'MODAL_WEBHOOK_SECRET_PREVIOUS',
          'JOBS_COLLECTION', 'BATCHES_COLLECTION', 'DEAD_LETTERS_COLLECTION', 'PIPELINE_COLLECTION_PREFIX', 'AFFINITY_DIRECTION', 'RANKING_SIZE', 'RESULTS_BUCKET',
          'COMPLETION_MODE', 'STALE_AFTER_SECONDS', 'MODAL_STATUS_URL', 'MODAL_CONTROL_URL', 'MODAL_APPS', 'STATS_FLUSH_SECONDS', 'SIGNATURE_SCHEMES', 'SECRET_READ_COMMAND']
          .filter((k) => process.env[k] !== undefined)
          .map((k) => [k, process.env[k] as string]),
      ),
    },
    onLog: (service, line) => process.stdout.write(printableLog(service, line) + '\n'),
  });

  const collectionEnv = Object.fromEntries(
    ['JOBS_COLLECTION', 'BATCHES_COLLECTION', 'DEAD_LETTERS_COLLECTION', 'PIPELINE_COLLECTION_PREFIX'].filter((k) => stack.env[k] !== undefined).map((k) => [k, stack.env[k]!]),
  );
  writeLocalState({
    pid: process.pid,
    projectId,
    startedAt: new Date().toISOString(),
    env: { ...stack.emulators.env, ...collectionEnv, COMPLETIONS_TOPIC: stack.completionsTopic },
    webhookUrl: `http://localhost:${new URL(stack.webhookUrl).port}/api/v3/webhooks/modal/completion`,
    adminUrl: `http://localhost:${new URL(stack.adminUrl).port}`,
    completionsTopic: stack.completionsTopic,
    deadLetterSubscription: stack.deadLetterSubscription,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping functions and emulators (saving Firestore data to ${firestoreDataDir})…\n`);
    removeLocalState();
    await stack.stop();
    process.stdout.write('stopped.\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // A closed terminal: stop as Ctrl-C does (Firestore exported). Even without this, kill -9 included,
  // the functions and emulators exit with this process (exit-with-parent.ts, reaper.ts).
  process.on('SIGHUP', () => void shutdown('SIGHUP'));

  const url = `http://localhost:${new URL(stack.webhookUrl).port}`;
  const admin = `localhost:${new URL(stack.adminUrl).port}`;
  const secretLine = fromEnv
    ? 'MODAL_WEBHOOK_SECRET from the environment.'
    : saved!.created
      ? 'MODAL_WEBHOOK_SECRET generated and saved in .data/secret (kept across restarts; the local tools read it).'
      : 'MODAL_WEBHOOK_SECRET kept from .data/secret (the local tools read it).';
  const firestoreLine = !stack.emulators.owned.includes('firestore')
    ? `Firestore: the running emulator at ${stack.emulators.env.FIRESTORE_EMULATOR_HOST} (its data is its own).`
    : stack.emulators.restoredFrom
      ? `Firestore: data restored from the last run (${firestoreDataDir}); \`npm start -- --fresh\` starts empty.`
      : `Firestore: empty${values.fresh ? ' (--fresh)' : ' (first start)'}; saved to ${firestoreDataDir} on Ctrl-C and restored next time.`;
  const portNotes = [
    ['Pub/Sub', stack.emulators.env.PUBSUB_EMULATOR_HOST, PUBSUB_PORT, 'pubsub'],
    ['Firestore', stack.emulators.env.FIRESTORE_EMULATOR_HOST, FIRESTORE_PORT, 'firestore'],
  ].filter(([, host, port, kind]) => stack.emulators.owned.includes(kind as 'pubsub') && !String(host).endsWith(`:${port}`))
    .map(([name, host, port]) => `  note: port ${port} was taken, so the ${name} emulator runs on ${host}\n`).join('');
  process.stdout.write(`
omtx-modal-webhooks is running.

  webhook        ${url}/api/v3/webhooks/modal/completion   (also POST ${url}/)
  health         ${url}/api/v3/webhooks/modal/health
  worker         ${stack.workerUrl}  ← push subscription on topic ${stack.completionsTopic}
  admin          http://${admin}/api/v3/webhooks/status   (metrics, active-executions, …: docs/openapi.yaml)
  reconciler     COMPLETION_MODE=${stack.completionMode}, ticks on ${stack.reconcileTopic}
  emulators      PUBSUB_EMULATOR_HOST=${stack.emulators.env.PUBSUB_EMULATOR_HOST} FIRESTORE_EMULATOR_HOST=${stack.emulators.env.FIRESTORE_EMULATOR_HOST}
  results        ${stack.resultsDir}
  batch events   topic ${stack.batchEventsTopic}, subscription ${stack.batchEventsSubscription}
  dead letters   subscription ${stack.deadLetterSubscription} (after 10 failed deliveries) and the dead_letters collection
${portNotes}
  ${secretLine}
  A Standard Webhooks library takes it as whsec_ + base64:  ${fromEnv ? 'printf \'whsec_%s\\n\' "$(printf %s "$MODAL_WEBHOOK_SECRET" | base64 -w0)"' : 'printf \'whsec_%s\\n\' "$(tr -d \'\\n\' < .data/secret | base64 -w0)"'}
  ${firestoreLine}

In another shell (the tools find this stack and its secret by themselves):
  npm run send-webhook                       # the seed's sample completion, signed → 202
  npm run show -- jobs/job-abc123            # the job as stored
  npm run dead-letters -- list

or with curl (export MODAL_WEBHOOK_SECRET="$(cat .data/secret)" first):
  BODY='{"call_id":"call-curl-1","status":"success","result":{"affinity":0.64,"confidence":0.51},"metadata":{"job_id":"job-curl-1","batch_id":"batch-curl"}}'
  TS=$(date +%s)
  SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$MODAL_WEBHOOK_SECRET" | sed 's/^.*= //')
  curl -i ${url}/api/v3/webhooks/modal/completion -H 'Content-Type: application/json' \\
    -H "X-Modal-Timestamp: $TS" -H "X-Modal-Signature: sha256=$SIG" -d "$BODY"

Operate it:
  curl -X POST ${admin}/api/v3/webhooks/modal/test      # a signed test delivery, end to end
  curl ${admin}/api/v3/webhooks/metrics

Ctrl-C stops everything.
`);
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
