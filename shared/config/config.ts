/**
 * Configuration: environment → zod → one typed, frozen object per function. Parsed once at cold
 * start; a bad or missing value fails there with the variable's name, not on the first request.
 * The webhook's and the worker's here; the admin's and the reconciler's in config-operations.ts
 * (re-exported); shared pieces in env.ts.
 */
import { z } from 'zod';
import { ConfigError } from '../platform/errors';
import {
  bool,
  cleanSecret,
  collectionsEnv,
  common,
  firestoreSettings,
  int,
  name,
  optionalName,
  parse,
  results,
  signatureSchemes,
  type Collections,
  type Env,
  type ResultsLocation,
} from './env';
import type { SignatureScheme } from '../contract/signature';

const PUBSUB_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/** Bodies up to this size are read whatever else is in flight (BODY_BUDGET_BYTES bounds the rest). */
const SMALL_BODY_BYTES = 1024 * 1024;

const webhookEnv = z.object({
  ...common,
  MODAL_WEBHOOK_SECRET: z.string({ error: 'is required (the HMAC secret shared with the Modal app)' }),
  MODAL_WEBHOOK_SECRET_PREVIOUS: z.string().optional(),
  WEBHOOK_TOLERANCE_SECONDS: int(1, 3600).default(300),
  SIGNATURE_SCHEMES: signatureSchemes,
  COMPLETIONS_TOPIC: name.default('modal-completions'),
  DRY_RUN: bool.default(false),
  CLAIM_CHECK_THRESHOLD_BYTES: int(1024, 9 * 1024 * 1024).default(5 * 1024 * 1024),
  /** Publisher batching window: 1 ms halves the CPU per acknowledgement at load for ≤ 1 ms of latency (npm run bench). */
  PUBLISH_BATCH_WINDOW_MS: int(0, 1000).default(1),
  /** A publish or claim-check upload still pending after this is answered 503 (and cancelled). */
  PUBLISH_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** Largest body accepted (413 above): Cloud Run's own request limit is 32 MiB. */
  MAX_BODY_BYTES: int(1024, 32 * 1024 * 1024).default(32 * 1024 * 1024),
  /**
   * Bytes all bodies being read at once may hold together; a large body that does not fit is
   * answered 503 with Retry-After (bodies up to 1 MiB always get in). Bounds the instance's memory
   * under a flood of large unsigned bodies (docs/framework-seam.md).
   */
  BODY_BUDGET_BYTES: int(1024 * 1024, 4 * 1024 * 1024 * 1024).default(96 * 1024 * 1024),
  /** A body still arriving after this long is answered 408. */
  BODY_READ_TIMEOUT_MS: int(100, 600_000).default(30_000),
  /** A body with no byte for this long is answered 408 and closed (a connection that declares a body and sends nothing). */
  BODY_IDLE_TIMEOUT_MS: int(100, 600_000).default(5_000),
  /**
   * After a 5 s grace, a body averaging fewer bytes a second is answered 408 (one that drips). 0: no
   * floor. docs/configuration.md says why 16 KiB/s is safe for Modal.
   */
  BODY_MIN_BYTES_PER_SECOND: int(0, 100 * 1024 * 1024).default(16 * 1024),
  STATS_FLUSH_SECONDS: int(0, 3600).default(30),
});

const workerEnv = z.object({
  ...common,
  ...collectionsEnv,
  BATCH_EVENTS_TOPIC: optionalName,
  AFFINITY_DIRECTION: z.enum(['higher', 'lower']).default('higher'),
  /** Counter shards per batch (shared/batch/batch-counters.ts): a batch's completions spread over them. */
  BATCH_COUNTER_SHARDS: int(1, 100).default(16),
  /** How often, at most, a running batch's document gets its counts written back from the shards. */
  BATCH_COUNTS_INTERVAL_MS: int(0, 60_000).default(1000),
  RANKING_SIZE: int(1, 1000).default(10),
});

/** Environment variables each function reads (the Terraform tests check the deployment against these). */
export const WEBHOOK_ENV_VARS: readonly string[] = Object.keys(webhookEnv.shape);
export const WORKER_ENV_VARS: readonly string[] = Object.keys(workerEnv.shape);

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
  /** Limits on reading bodies before any check (shared/framework/request-body.ts). */
  body: {
    budgetBytes: number;
    smallBodyBytes: number;
    readTimeoutMs: number;
    idleTimeoutMs: number;
    minBytesPerSecond: number;
  };
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

export function loadWebhookConfig(env: Env): Readonly<WebhookConfig> {
  const e = parse(webhookEnv, env);
  const warnings: string[] = [];
  const problems: string[] = [];
  const current = cleanSecret('MODAL_WEBHOOK_SECRET', e.MODAL_WEBHOOK_SECRET, warnings, problems);
  const previous = cleanSecret('MODAL_WEBHOOK_SECRET_PREVIOUS', e.MODAL_WEBHOOK_SECRET_PREVIOUS, warnings, problems);
  if (problems.length) throw new ConfigError(problems);
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
    body: Object.freeze({
      budgetBytes: e.BODY_BUDGET_BYTES,
      smallBodyBytes: SMALL_BODY_BYTES,
      readTimeoutMs: e.BODY_READ_TIMEOUT_MS,
      idleTimeoutMs: e.BODY_IDLE_TIMEOUT_MS,
      minBytesPerSecond: e.BODY_MIN_BYTES_PER_SECOND,
    }),
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

/** The functions this source archive holds, by the entry point each registers (FUNCTION_TARGET). */
export const FUNCTION_TARGETS = ['modalWebhook', 'processCompletion', 'webhookAdmin', 'reconcileExecutions'] as const;
export type FunctionTarget = (typeof FUNCTION_TARGETS)[number];

const serverEnv = z.object({
  /** Which function this instance serves: Cloud Functions sets it from the entry point, as `npm start` does. */
  FUNCTION_TARGET: z.enum(FUNCTION_TARGETS, { error: `must name one of ${FUNCTION_TARGETS.join(', ')}` }),
  /** The address the function's server listens on; unset: all interfaces (Cloud Run). The local stack sets 127.0.0.1. */
  BIND_HOST: z
    .string()
    .trim()
    .regex(/^[0-9A-Za-z.:-]+$/, 'must be an address such as 127.0.0.1')
    .optional(),
});

/** Which function the instance serves, and how its server listens. */
export function loadServerOptions(env: Env): Readonly<{ target: FunctionTarget; bindHost?: string }> {
  const e = parse(serverEnv, env);
  return Object.freeze({ target: e.FUNCTION_TARGET, ...(e.BIND_HOST ? { bindHost: e.BIND_HOST } : {}) });
}

export type { Collections, ResultsLocation } from './env';
export * from './config-operations';
