/**
 * Configuration: environment → zod → one typed, frozen object per function. Parsed once at cold
 * start; a bad or missing value fails there with the variable's name, not on the first request.
 */
import { z } from 'zod';
import { ConfigError } from './errors';

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

const webhookEnv = z.object({
  ...common,
  MODAL_WEBHOOK_SECRET: z.string({ error: 'is required (the HMAC secret shared with the Modal app)' }),
  MODAL_WEBHOOK_SECRET_PREVIOUS: z.string().optional(),
  WEBHOOK_TOLERANCE_SECONDS: int(1, 3600).default(300),
  COMPLETIONS_TOPIC: name.default('modal-completions'),
  DRY_RUN: bool.default(false),
  CLAIM_CHECK_THRESHOLD_BYTES: int(1024, 9 * 1024 * 1024).default(5 * 1024 * 1024),
  PUBLISH_BATCH_WINDOW_MS: int(0, 1000).default(0),
});

const workerEnv = z.object({
  ...common,
  JOBS_COLLECTION: name.default('jobs'),
  BATCHES_COLLECTION: name.default('batches'),
  DEAD_LETTERS_COLLECTION: name.default('dead_letters'),
  FIRESTORE_DATABASE: name.default('(default)'),
  BATCH_EVENTS_TOPIC: optionalName,
  AFFINITY_DIRECTION: z.enum(['higher', 'lower']).default('higher'),
  RANKING_SIZE: int(1, 1000).default(10),
});

/** Environment variables each function reads (the Terraform tests check the deployment against these). */
export const WEBHOOK_ENV_VARS: readonly string[] = Object.keys(webhookEnv.shape);
export const WORKER_ENV_VARS: readonly string[] = Object.keys(workerEnv.shape);

/** Where result files go: a Cloud Storage bucket in production, a local directory otherwise. */
export type ResultsLocation = { kind: 'gcs'; bucket: string } | { kind: 'local'; dir: string };

export interface WebhookConfig {
  projectId?: string;
  /** Accepted secrets, current first. Never logged. */
  secrets: readonly string[];
  toleranceSeconds: number;
  completionsTopic: string;
  dryRun: boolean;
  claimCheckThresholdBytes: number;
  publishBatchWindowMs: number;
  results: ResultsLocation;
  /** Things worth saying at start (never secret values). */
  warnings: readonly string[];
}

export interface WorkerConfig {
  projectId?: string;
  jobsCollection: string;
  batchesCollection: string;
  deadLettersCollection: string;
  firestoreDatabase: string;
  batchEventsTopic?: string;
  affinityDirection: 'higher' | 'lower';
  rankingSize: number;
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
    completionsTopic: e.COMPLETIONS_TOPIC,
    dryRun: e.DRY_RUN,
    claimCheckThresholdBytes: e.CLAIM_CHECK_THRESHOLD_BYTES,
    publishBatchWindowMs: e.PUBLISH_BATCH_WINDOW_MS,
    results: results(e),
    warnings: Object.freeze(warnings),
  });
}

export function loadWorkerConfig(env: Env): Readonly<WorkerConfig> {
  const e = parse(workerEnv, env);
  return Object.freeze({
    projectId: e.GOOGLE_CLOUD_PROJECT,
    jobsCollection: e.JOBS_COLLECTION,
    batchesCollection: e.BATCHES_COLLECTION,
    deadLettersCollection: e.DEAD_LETTERS_COLLECTION,
    firestoreDatabase: e.FIRESTORE_DATABASE,
    batchEventsTopic: e.BATCH_EVENTS_TOPIC,
    affinityDirection: e.AFFINITY_DIRECTION,
    rankingSize: e.RANKING_SIZE,
    results: results(e),
    warnings: Object.freeze([]),
  });
}
