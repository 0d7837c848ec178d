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
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ADMIN_ENV_VARS, RECONCILER_ENV_VARS, WEBHOOK_ENV_VARS, WORKER_ENV_VARS } from '../../shared/config/config';
import { MissingPrerequisite } from './emulators';
import { startLocalStack, type LocalStack } from './local-stack';
import {
  dataDir,
  lastLocalState,
  localSecret,
  localSecretFile,
  removeLocalState,
  writeLocalState,
} from './local-state';
import { secretReadCommand, secretSpec, type SecretSource } from '../../shared/modal/secret-source';
import { describePortHolder, portIsFree } from './ports';
import { COMPLETION_PATH, HEALTH_PATH } from '../../shared/contract/routes';

const DEFAULT_PROJECT = 'demo-omtx-local';
const PUBSUB_PORT = 8085;
const FIRESTORE_PORT = 8086;

function printableLog(service: string, line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const ids = [
      'event',
      'reason',
      'code',
      'call_id',
      'job_id',
      'batch_id',
      'delivery_id',
      'status',
      'latency_ms',
      'duration_ms',
      'processing_latency_ms',
    ]
      .filter((k) => entry[k] !== undefined)
      .map((k) => `${k}=${String(entry[k])}`)
      .join(' ');
    return `[${service}] ${String((entry.severity as string) ?? '').padEnd(7)} ${String((entry.message as string) ?? '')}  ${ids}`;
  } catch {
    return `[${service}] ${line}`;
  }
}

/** Fails with one line when the stack is already running, or when a port it needs is taken. */
async function preflight(
  ports: Record<'webhook' | 'worker' | 'admin' | 'pubsub' | 'firestore', number>,
): Promise<void> {
  const last = lastLocalState();
  if (last?.alive) {
    fail(
      `npm start is already running (pid ${last.state.pid}, since ${last.state.startedAt}); stop it first (Ctrl-C in its terminal, or kill ${last.state.pid})`,
    );
  }
  if (last) {
    process.stdout.write(
      `note: the last npm start (pid ${last.state.pid}) did not stop cleanly; its .data/local-stack.json was stale and is replaced\n`,
    );
    removeLocalState();
  }
  const needed: Array<[string, number, string]> = [
    ['webhook', ports.webhook, 'PORT'],
    ['worker', ports.worker, 'WORKER_PORT'],
    ['admin', ports.admin, 'ADMIN_PORT'],
    ...(process.env.PUBSUB_EMULATOR_HOST
      ? []
      : [['Pub/Sub emulator', ports.pubsub, 'PUBSUB_EMULATOR_PORT'] as [string, number, string]]),
    ...(process.env.FIRESTORE_EMULATOR_HOST
      ? []
      : [['Firestore emulator', ports.firestore, 'FIRESTORE_EMULATOR_PORT'] as [string, number, string]]),
  ];
  for (const [what, port, variable] of needed) {
    if (!(await portIsFree(port)))
      fail(`port ${port} (${what}) is in use by ${describePortHolder(port)}; stop that process or set ${variable}`);
  }
}

function fail(line: string): never {
  process.stderr.write(`npm start: ${line}\n`);
  process.exit(1);
}

/**
 * The functions' settings a shell may give `npm start`: every variable the functions' configuration
 * reads (shared/config), less those the local stack decides itself and K_SERVICE, which would make
 * the admin behave as deployed.
 */
const SET_BY_THE_STACK = new Set([
  'GOOGLE_CLOUD_PROJECT',
  'MODAL_WEBHOOK_SECRET',
  'COMPLETIONS_TOPIC',
  'BATCH_EVENTS_TOPIC',
  'RESULTS_DIR',
  'WEBHOOK_URL',
  'WEBHOOK_BASE_URL',
  'K_SERVICE',
]);
export const FORWARDED_ENV: readonly string[] = [
  ...new Set([...WEBHOOK_ENV_VARS, ...WORKER_ENV_VARS, ...ADMIN_ENV_VARS, ...RECONCILER_ENV_VARS]),
].filter((k) => !SET_BY_THE_STACK.has(k));

interface StartOptions {
  fresh: boolean;
  projectId: string;
  firestoreDataDir: string;
  resultsDir: string;
  ports: Record<'webhook' | 'worker' | 'admin' | 'pubsub' | 'firestore', number>;
  /** The secret from the environment, when given there; else the one kept in .data/secret. */
  secretFromEnv?: string;
}

function startOptions(fresh: boolean): StartOptions {
  const fromEnv = process.env.MODAL_WEBHOOK_SECRET?.trim();
  return {
    fresh,
    projectId: process.env.GOOGLE_CLOUD_PROJECT || DEFAULT_PROJECT,
    firestoreDataDir: join(dataDir(), 'firestore'),
    resultsDir: process.env.RESULTS_DIR ?? join(dataDir(), 'results'),
    ports: {
      webhook: Number(process.env.PORT || 8080),
      worker: Number(process.env.WORKER_PORT || 8081),
      admin: Number(process.env.ADMIN_PORT || 8082),
      pubsub: Number(process.env.PUBSUB_EMULATOR_PORT || PUBSUB_PORT),
      firestore: Number(process.env.FIRESTORE_EMULATOR_PORT || FIRESTORE_PORT),
    },
    ...(fromEnv ? { secretFromEnv: fromEnv } : {}),
  };
}

/** Where this stack's secret is read: the environment it came from, or the saved file. */
const secretSourceOf = (options: StartOptions): SecretSource =>
  options.secretFromEnv ? { kind: 'env', name: 'MODAL_WEBHOOK_SECRET' } : { kind: 'file', path: localSecretFile() };

/** The environment the functions get from this shell, and where the configure step reads the secret. */
function forwardedEnv(options: StartOptions): Record<string, string> {
  return {
    // The configure step's commands read the secret where it lives here, never print it.
    SECRET_READ_COMMAND: secretReadCommand(secretSourceOf(options)),
    ...Object.fromEntries(
      FORWARDED_ENV.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k] as string]),
    ),
  };
}

/** .data/local-stack.json: how the local tools (send-webhook, show, dead-letters) find this stack. */
function saveState(stack: LocalStack, options: StartOptions): void {
  const collectionEnv = Object.fromEntries(
    ['JOBS_COLLECTION', 'BATCHES_COLLECTION', 'DEAD_LETTERS_COLLECTION', 'PIPELINE_COLLECTION_PREFIX']
      .filter((k) => stack.env[k] !== undefined)
      .map((k) => [k, stack.env[k]!]),
  );
  writeLocalState({
    pid: process.pid,
    projectId: options.projectId,
    startedAt: new Date().toISOString(),
    env: { ...stack.emulators.env, ...collectionEnv, COMPLETIONS_TOPIC: stack.completionsTopic },
    // As the admin API has it (WEBHOOK_URL), so that configure-modal finds the two in agreement.
    webhookUrl: `${stack.webhookUrl}${COMPLETION_PATH}`,
    adminUrl: `http://localhost:${new URL(stack.adminUrl).port}`,
    completionsTopic: stack.completionsTopic,
    deadLetterSubscription: stack.deadLetterSubscription,
    secretFrom: secretSpec(secretSourceOf(options)),
  });
}

/** Ctrl-C, SIGTERM and a closed terminal (SIGHUP) stop everything, Firestore exported. */
function stopOnSignals(stack: LocalStack, firestoreDataDir: string): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(
      `\n${signal}: stopping functions and emulators (saving Firestore data to ${firestoreDataDir})…\n`,
    );
    removeLocalState();
    await stack.stop();
    process.stdout.write('stopped.\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // Even without this, kill -9 included, the functions and emulators exit with this process
  // (exit-with-parent.ts, reaper.ts).
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
}

function secretLine(options: StartOptions, created: boolean): string {
  if (options.secretFromEnv) return 'MODAL_WEBHOOK_SECRET from the environment.';
  return created
    ? 'MODAL_WEBHOOK_SECRET generated and saved in .data/secret (kept across restarts; the local tools read it).'
    : 'MODAL_WEBHOOK_SECRET kept from .data/secret (the local tools read it).';
}

function firestoreLine(stack: LocalStack, options: StartOptions): string {
  if (!stack.emulators.owned.includes('firestore'))
    return `Firestore: the running emulator at ${stack.emulators.env.FIRESTORE_EMULATOR_HOST} (its data is its own).`;
  return stack.emulators.restoredFrom
    ? `Firestore: data restored from the last run (${options.firestoreDataDir}); \`npm start -- --fresh\` starts empty.`
    : `Firestore: empty${options.fresh ? ' (--fresh)' : ' (first start)'}; saved to ${options.firestoreDataDir} on Ctrl-C and restored next time.`;
}

/** The banner: where everything listens, and the commands to try next. */
function banner(stack: LocalStack, options: StartOptions, secretCreated: boolean): string {
  const url = `http://localhost:${new URL(stack.webhookUrl).port}`;
  const admin = `localhost:${new URL(stack.adminUrl).port}`;
  const portNotes = [
    ['Pub/Sub', stack.emulators.env.PUBSUB_EMULATOR_HOST, PUBSUB_PORT, 'pubsub'],
    ['Firestore', stack.emulators.env.FIRESTORE_EMULATOR_HOST, FIRESTORE_PORT, 'firestore'],
  ]
    .filter(
      ([, host, port, kind]) => stack.emulators.owned.includes(kind as 'pubsub') && !String(host).endsWith(`:${port}`),
    )
    .map(([name, host, port]) => `  note: port ${port} was taken, so the ${name} emulator runs on ${host}\n`)
    .join('');
  const whsec = options.secretFromEnv
    ? 'printf \'whsec_%s\\n\' "$(printf %s "$MODAL_WEBHOOK_SECRET" | base64 -w0)"'
    : "printf 'whsec_%s\\n' \"$(tr -d '\\n' < .data/secret | base64 -w0)\"";
  return `
omtx-modal-webhooks is running.

  webhook        ${url}${COMPLETION_PATH}   (also POST ${url}/)
  health         ${url}${HEALTH_PATH}
  worker         ${stack.workerUrl}  ← push subscription on topic ${stack.completionsTopic}
  operator page  http://${admin}/ui/   (batches, dead letters, executions; open it in a browser)
  admin API      http://${admin}/api/v3/webhooks/status   (metrics, active-executions, …: docs/openapi.yaml)
  reconciler     COMPLETION_MODE=${stack.completionMode}, ticks on ${stack.reconcileTopic}
  emulators      PUBSUB_EMULATOR_HOST=${stack.emulators.env.PUBSUB_EMULATOR_HOST} FIRESTORE_EMULATOR_HOST=${stack.emulators.env.FIRESTORE_EMULATOR_HOST}
  results        ${stack.resultsDir}
  batch events   topic ${stack.batchEventsTopic}, subscription ${stack.batchEventsSubscription}
  dead letters   the dead_letters collection (after 10 failed deliveries, mirrored by ${stack.deadLetterSubscription}): the page, or npm run dead-letters
${portNotes}
  ${secretLine(options, secretCreated)}
  A Standard Webhooks library takes it as whsec_ + base64:  ${whsec}
  ${firestoreLine(stack, options)}

In another shell (the tools find this stack and its secret by themselves):
  npm run send-webhook                       # the seed's sample completion, signed → 202
  npm run show -- jobs/job-abc123            # the job as stored
  npm run dead-letters -- list

or with curl (export MODAL_WEBHOOK_SECRET="$(cat .data/secret)" first):
  BODY='{"call_id":"call-curl-1","status":"success","result":{"affinity":0.64,"confidence":0.51},"metadata":{"job_id":"job-curl-1","batch_id":"batch-curl"}}'
  TS=$(date +%s)
  SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$MODAL_WEBHOOK_SECRET" | sed 's/^.*= //')
  curl -i ${url}${COMPLETION_PATH} -H 'Content-Type: application/json' \\
    -H "X-Modal-Timestamp: $TS" -H "X-Modal-Signature: sha256=$SIG" -d "$BODY"

Operate it (state-changing calls carry X-Requested-By: omtx and a JSON content type):
  curl -X POST ${admin}/api/v3/webhooks/modal/test -H 'X-Requested-By: omtx' -H 'Content-Type: application/json'
  curl ${admin}/api/v3/webhooks/metrics

Ctrl-C stops everything.
`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { fresh: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm start [-- --fresh]\n  --fresh  start with empty Firestore data and results (the secret in .data/secret stays)\n',
    );
    return;
  }
  const options = startOptions(values.fresh);
  if (options.fresh) {
    rmSync(options.firestoreDataDir, { recursive: true, force: true });
    rmSync(options.resultsDir, { recursive: true, force: true });
  }
  await preflight(options.ports);
  const saved = options.secretFromEnv ? undefined : localSecret();
  process.stdout.write(`Starting omtx-modal-webhooks locally (project ${options.projectId})…\n`);
  const stack = await startLocalStack({
    projectId: options.projectId,
    secret: options.secretFromEnv ?? saved!.secret,
    emulatorOptions: {
      ports: { pubsub: options.ports.pubsub, firestore: options.ports.firestore },
      firestoreDataDir: options.firestoreDataDir,
    },
    webhookPort: options.ports.webhook,
    workerPort: options.ports.worker,
    adminPort: options.ports.admin,
    reconcileIntervalSeconds: Number(process.env.RECONCILE_INTERVAL_SECONDS || 60),
    resultsDir: options.resultsDir,
    completionsTopic: process.env.COMPLETIONS_TOPIC,
    batchEventsTopic: process.env.BATCH_EVENTS_TOPIC,
    env: forwardedEnv(options),
    onLog: (service, line) => process.stdout.write(printableLog(service, line) + '\n'),
  });
  saveState(stack, options);
  stopOnSignals(stack, options.firestoreDataDir);
  process.stdout.write(banner(stack, options, saved?.created ?? false));
}

main().catch((err: unknown) => {
  if (err instanceof MissingPrerequisite) fail(err.message);
  process.stderr.write(`npm start failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
