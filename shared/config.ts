/**
 * Configuration: environment → zod → one typed, frozen object per function. Parsed once at cold
 * start; a bad or missing value fails there with the variable's name, not on the first request.
 */
import { z } from 'zod';
import { ConfigError } from './errors';
import type { SignatureScheme } from './signature';
import { parseModalApps, type ModalApp } from './modal-config';

const PUBSUB_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const name = z.string().trim().min(1);
const optionalName = z.string().trim().optional().transform((v) => (v ? v : undefined));

const common = {
  GOOGLE_CLOUD_PROJECT: optionalName,
  RESULTS_BUCKET: optionalName,
  RESULTS_DIR: z.string().default('./.data/results'),
};

const collectionsEnv = {
  JOBS_COLLECTION: name.default('jobs'),
  BATCHES_COLLECTION: name.default('batches'),
  /** Prefix of the pipeline's own collections (executions, dead letters, stats, apps, tests). */
  PIPELINE_COLLECTION_PREFIX: z.string().trim().regex(/^[A-Za-z0-9_]*$/).default(''),
  DEAD_LETTERS_COLLECTION: optionalName,
  FIRESTORE_DATABASE: name.default('(default)'),
};

/** Firestore collections; `jobs` and `batches` are shared with the OMTX-Hub backend. */
export interface Collections {
  jobs: string;
  batches: string;
  deadLetters: string;
  executions: string;
  apps: string;
  stats: string;
  tests: string;
}

function collections(e: { JOBS_COLLECTION: string; BATCHES_COLLECTION: string; PIPELINE_COLLECTION_PREFIX: string; DEAD_LETTERS_COLLECTION?: string }): Collections {
  const p = e.PIPELINE_COLLECTION_PREFIX;
  return Object.freeze({
    jobs: e.JOBS_COLLECTION,
    batches: e.BATCHES_COLLECTION,
    deadLetters: e.DEAD_LETTERS_COLLECTION ?? `${p}dead_letters`,
    executions: `${p}executions`,
    apps: `${p}webhook_apps`,
    stats: `${p}webhook_stats`,
    tests: `${p}webhook_tests`,
  });
}

/** Where the worker, admin and reconciler find Firestore. */
function firestoreSettings(e: { GOOGLE_CLOUD_PROJECT?: string; FIRESTORE_DATABASE: string } & Parameters<typeof collections>[0]) {
  return { projectId: e.GOOGLE_CLOUD_PROJECT, collections: collections(e), firestoreDatabase: e.FIRESTORE_DATABASE };
}

const webhookEnv = z.object({
  ...common,
  MODAL_WEBHOOK_SECRET: z.string({ error: 'is required (the HMAC secret shared with the Modal app)' }),
  MODAL_WEBHOOK_SECRET_PREVIOUS: z.string().optional(),
  WEBHOOK_TOLERANCE_SECONDS: int(1, 3600).default(300),
  /** Which signature schemes are accepted: `modal` (the seed's), `standard` (Standard Webhooks). */
  SIGNATURE_SCHEMES: z
    .string()
    .default('modal,standard')
    .transform((v) => [...new Set(v.split(',').map((x) => x.trim()).filter(Boolean))])
    .pipe(z.array(z.enum(['modal', 'standard'])).min(1, 'name at least one of modal, standard')),
  COMPLETIONS_TOPIC: name.default('modal-completions'),
  DRY_RUN: bool.default(false),
  CLAIM_CHECK_THRESHOLD_BYTES: int(1024, 9 * 1024 * 1024).default(5 * 1024 * 1024),
  /** Publisher batching window: 1 ms halves the CPU per acknowledgement at load for ≤ 1 ms of latency (npm run bench). */
  PUBLISH_BATCH_WINDOW_MS: int(0, 1000).default(1),
  /** A publish or claim-check upload still pending after this is answered 503 (and cancelled). */
  PUBLISH_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** Largest body accepted (413 above): Cloud Run's own request limit is 32 MiB. */
  MAX_BODY_BYTES: int(1024, 32 * 1024 * 1024).default(32 * 1024 * 1024),
  STATS_FLUSH_SECONDS: int(0, 3600).default(30),
});

const workerEnv = z.object({
  ...common,
  ...collectionsEnv,
  BATCH_EVENTS_TOPIC: optionalName,
  AFFINITY_DIRECTION: z.enum(['higher', 'lower']).default('higher'),
  /** Counter shards per batch (shared/batch-counters.ts): a batch's completions spread over them. */
  BATCH_COUNTER_SHARDS: int(1, 100).default(16),
  /** How often, at most, a running batch's document gets its counts written back from the shards. */
  BATCH_COUNTS_INTERVAL_MS: int(0, 60_000).default(1000),
  RANKING_SIZE: int(1, 1000).default(10),
});

const url = z.url({ protocol: /^https?$/ });

const adminEnv = z.object({
  ...common,
  ...collectionsEnv,
  MODAL_WEBHOOK_SECRET: z.string({ error: 'is required (the admin signs test deliveries and cancel requests with it)' }),
  COMPLETIONS_TOPIC: name.default('modal-completions'),
  WEBHOOK_URL: url.optional(),
  WEBHOOK_BASE_URL: url.optional(),
  MODAL_CONTROL_URL: url.optional(),
  /** Modal apps expected to send webhooks: `name` or `name=https://control-url`, comma-separated. */
  MODAL_APPS: z.string().default(''),
  /** The shell command that prints the current secret where the configure step's commands run (never the value). */
  SECRET_READ_COMMAND: z.string().trim().optional(),
  TEST_DELIVERY_TIMEOUT_SECONDS: int(1, 120).default(30),
});

const reconcilerEnv = z.object({
  ...common,
  ...collectionsEnv,
  MODAL_WEBHOOK_SECRET: z.string({ error: 'is required (status requests to Modal are signed with it)' }),
  COMPLETIONS_TOPIC: name.default('modal-completions'),
  COMPLETION_MODE: z.enum(['dual', 'webhook_primary', 'webhook_only']).default('dual'),
  STALE_AFTER_SECONDS: int(30, 7 * 24 * 3600).default(900),
  MODAL_STATUS_URL: url.optional(),
  RECONCILE_MAX_EXECUTIONS: int(1, 5000).default(500),
});

/** Environment variables each function reads (the Terraform tests check the deployment against these). */
export const WEBHOOK_ENV_VARS: readonly string[] = Object.keys(webhookEnv.shape);
export const WORKER_ENV_VARS: readonly string[] = Object.keys(workerEnv.shape);
export const ADMIN_ENV_VARS: readonly string[] = Object.keys(adminEnv.shape);
export const RECONCILER_ENV_VARS: readonly string[] = Object.keys(reconcilerEnv.shape);

/** Where result files go: a Cloud Storage bucket in production, a local directory otherwise. */
export type ResultsLocation = { kind: 'gcs'; bucket: string } | { kind: 'local'; dir: string };

export interface WebhookConfig {
  projectId?: string;
  /** Accepted secrets, current first. Never logged. */
  secrets: readonly string[];
  toleranceSeconds: number;
  /** Accepted signature schemes; `['standard']` requires the timestamp-binding one. */
  signatureSchemes: readonly SignatureScheme[];
  completionsTopic: string;
  dryRun: boolean;
  claimCheckThresholdBytes: number;
  publishBatchWindowMs: number;
  publishTimeoutMs: number;
  maxBodyBytes: number;
  /** How often rejection/acceptance counts are sent to the worker for the metrics endpoint; 0: every request. */
  statsFlushMs: number;
  results: ResultsLocation;
  /** Things worth saying at start (never secret values). */
  warnings: readonly string[];
}

export interface WorkerConfig {
  projectId?: string;
  collections: Collections;
  firestoreDatabase: string;
  batchEventsTopic?: string;
  affinityDirection: 'higher' | 'lower';
  rankingSize: number;
  batchCounterShards: number;
  batchCountsIntervalMs: number;
  results: ResultsLocation;
  warnings: readonly string[];
}

type Env = Record<string, string | undefined>;

function parse<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return result.data;
}

function results(env: { RESULTS_BUCKET?: string; RESULTS_DIR: string }): ResultsLocation {
  return env.RESULTS_BUCKET ? { kind: 'gcs', bucket: env.RESULTS_BUCKET } : { kind: 'local', dir: env.RESULTS_DIR };
}

/** A secret pasted with `echo` carries a newline: trim it, and say so (without the value). */
function cleanSecret(variable: string, raw: string | undefined, warnings: string[], problems: string[]): string | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (trimmed !== raw) warnings.push(`${variable} had leading or trailing whitespace; it was trimmed before use`);
  if (trimmed === '') problems.push(`${variable}: is empty`);
  return trimmed;
}

export function loadWebhookConfig(env: Env): Readonly<WebhookConfig> {
  const e = parse(webhookEnv, env);
  const warnings: string[] = [];
  const problems: string[] = [];
  const current = cleanSecret('MODAL_WEBHOOK_SECRET', e.MODAL_WEBHOOK_SECRET, warnings, problems);
  const previous = cleanSecret('MODAL_WEBHOOK_SECRET_PREVIOUS', e.MODAL_WEBHOOK_SECRET_PREVIOUS, warnings, problems);
  if (problems.length) throw new ConfigError(problems);
  if (current && current.length < 16) warnings.push('MODAL_WEBHOOK_SECRET is shorter than 16 characters; use `openssl rand -base64 32`');
  if (e.CLAIM_CHECK_THRESHOLD_BYTES >= PUBSUB_MAX_MESSAGE_BYTES) {
    throw new ConfigError(['CLAIM_CHECK_THRESHOLD_BYTES: must be below the 10 MB Pub/Sub message limit']);
  }
  const secrets = [current, previous].filter((s): s is string => Boolean(s) && s !== undefined);
  return Object.freeze({
    projectId: e.GOOGLE_CLOUD_PROJECT,
    secrets: Object.freeze([...new Set(secrets)]),
    toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
    signatureSchemes: Object.freeze(e.SIGNATURE_SCHEMES),
    completionsTopic: e.COMPLETIONS_TOPIC,
    dryRun: e.DRY_RUN,
    claimCheckThresholdBytes: e.CLAIM_CHECK_THRESHOLD_BYTES,
    publishBatchWindowMs: e.PUBLISH_BATCH_WINDOW_MS,
    publishTimeoutMs: e.PUBLISH_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    statsFlushMs: e.STATS_FLUSH_SECONDS * 1000,
    results: results(e),
    warnings: Object.freeze(warnings),
  });
}

export function loadWorkerConfig(env: Env): Readonly<WorkerConfig> {
  const e = parse(workerEnv, env);
  return Object.freeze({
    ...firestoreSettings(e),
    batchEventsTopic: e.BATCH_EVENTS_TOPIC,
    affinityDirection: e.AFFINITY_DIRECTION,
    rankingSize: e.RANKING_SIZE,
    batchCounterShards: e.BATCH_COUNTER_SHARDS,
    batchCountsIntervalMs: e.BATCH_COUNTS_INTERVAL_MS,
    results: results(e),
    warnings: Object.freeze([]),
  });
}

export interface AdminConfig {
  projectId?: string;
  collections: Collections;
  firestoreDatabase: string;
  secret: string;
  completionsTopic: string;
  /** The webhook's completion URL, for test deliveries. */
  webhookUrl?: string;
  /** The public base URL reported by the status endpoint (the seed's WEBHOOK_BASE_URL). */
  baseUrl?: string;
  modalControlUrl?: string;
  /** Modal apps expected to send webhooks (MODAL_APPS, comma-separated). */
  expectedApps: readonly string[];
  /** The same apps with their control endpoints (MODAL_APPS `name=url`, else MODAL_CONTROL_URL). */
  modalApps: readonly ModalApp[];
  /** Prints the secret where the configure step's commands run (SECRET_READ_COMMAND). */
  secretReadCommand: string;
  testTimeoutMs: number;
  results: ResultsLocation;
  warnings: readonly string[];
}

export function loadAdminConfig(env: Env): Readonly<AdminConfig> {
  const e = parse(adminEnv, env);
  const warnings: string[] = [];
  const problems: string[] = [];
  const secret = cleanSecret('MODAL_WEBHOOK_SECRET', e.MODAL_WEBHOOK_SECRET, warnings, problems)!;
  if (problems.length) throw new ConfigError(problems);
  if (!e.WEBHOOK_URL) warnings.push('WEBHOOK_URL is not set: POST /api/v3/webhooks/modal/test will answer 503');
  if (!e.MODAL_CONTROL_URL) warnings.push('MODAL_CONTROL_URL is not set: cancel marks jobs cancelled but cannot stop Modal calls');
  return Object.freeze({
    ...firestoreSettings(e),
    secret,
    completionsTopic: e.COMPLETIONS_TOPIC,
    webhookUrl: e.WEBHOOK_URL,
    baseUrl: e.WEBHOOK_BASE_URL ?? (e.WEBHOOK_URL ? new URL(e.WEBHOOK_URL).origin : undefined),
    modalControlUrl: e.MODAL_CONTROL_URL,
    expectedApps: Object.freeze(parseModalApps(e.MODAL_APPS).map((a) => a.name)),
    modalApps: Object.freeze(parseModalApps(e.MODAL_APPS, e.MODAL_CONTROL_URL)),
    secretReadCommand: e.SECRET_READ_COMMAND ?? 'printenv MODAL_WEBHOOK_SECRET',
    testTimeoutMs: e.TEST_DELIVERY_TIMEOUT_SECONDS * 1000,
    results: results(e),
    warnings: Object.freeze(warnings),
  });
}

export type CompletionMode = 'dual' | 'webhook_primary' | 'webhook_only';

export interface ReconcilerConfig {
  projectId?: string;
  collections: Collections;
  firestoreDatabase: string;
  secret: string;
  completionsTopic: string;
  mode: CompletionMode;
  staleAfterMs: number;
  modalStatusUrl?: string;
  maxExecutions: number;
  warnings: readonly string[];
}

export function loadReconcilerConfig(env: Env): Readonly<ReconcilerConfig> {
  const e = parse(reconcilerEnv, env);
  const warnings: string[] = [];
  const problems: string[] = [];
  const secret = cleanSecret('MODAL_WEBHOOK_SECRET', e.MODAL_WEBHOOK_SECRET, warnings, problems)!;
  if (e.COMPLETION_MODE !== 'webhook_only' && !e.MODAL_STATUS_URL) {
    problems.push(`MODAL_STATUS_URL: is required when COMPLETION_MODE is ${e.COMPLETION_MODE} (the reconciler polls it)`);
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    ...firestoreSettings(e),
    secret,
    completionsTopic: e.COMPLETIONS_TOPIC,
    mode: e.COMPLETION_MODE,
    staleAfterMs: e.STALE_AFTER_SECONDS * 1000,
    modalStatusUrl: e.MODAL_STATUS_URL,
    maxExecutions: e.RECONCILE_MAX_EXECUTIONS,
    warnings: Object.freeze(warnings),
  });
}
