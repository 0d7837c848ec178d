/**
 * The contracts, as zod schemas, with their TypeScript types derived:
 * - the Modal completion webhook payload (the seed guide's shape, unknown fields kept);
 * - the Pub/Sub message the webhook publishes (attributes of schema version 1);
 * - the Firestore documents the worker writes (`jobs/{job_id}`, `batches/{batch_id}`).
 */
import { z } from 'zod';

/** Longest id: a Firestore document id, a Cloud Storage path segment and a file name on any OS. */
export const MAX_ID_LENGTH = 128;
const WINDOWS_DEVICE_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * Identifiers end up as Firestore document ids, Cloud Storage path segments and local file names
 * (`jobs/{job_id}/{call_id}/…`), so they are limited to what is valid in all three on every OS:
 * letters, digits and `. _ @ -`, starting with a letter or digit, not ending with `.`, at most 128
 * characters, and not a Windows device name. Such an id can never be `.`/`..` nor Firestore's
 * reserved `__name__` form.
 */
export const idSchema = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9._@-]*[A-Za-z0-9_@-])?$/,
    'must start with a letter or digit, not end with ".", and contain only letters, digits and . _ @ -',
  )
  .refine((id) => !WINDOWS_DEVICE_NAMES.test(id), 'must not be a reserved device name (CON, NUL, COM1, …)');

/** Outcome of a Modal function call as the webhook reports it. */
export type CompletionStatus = 'success' | 'failure' | 'timeout';

/** `success` | `failure` | `timeout`, also the seed's event names `function.success` etc. */
export const completionStatusSchema = z
  .enum(['success', 'failure', 'timeout', 'function.success', 'function.failure', 'function.timeout'])
  .transform((s): CompletionStatus => s.replace(/^function\./, '') as CompletionStatus);

const score = z.number().finite().nullable().optional();
const BASE64 = /^[A-Za-z0-9+/_\r\n-]*={0,2}\s*$/;

/** Scores and the predicted structure of a Boltz-2 run; unknown fields are kept. */
export const resultSchema = z.looseObject({
  affinity: score,
  confidence: score,
  ptm_score: score,
  iptm_score: score,
  plddt_score: score,
  execution_time: z.number().finite().nonnegative().nullable().optional(),
  structure_file_base64: z.string().regex(BASE64, 'must be base64').nullable().optional(),
});

/** Error details of a failed or timed-out call; a bare string is accepted as the message. */
export const errorSchema = z.union([
  z.string().transform((message) => ({ message })),
  z.looseObject({
    message: z.string().optional(),
    type: z.string().optional(),
    traceback: z.string().optional(),
  }),
]);

export const metadataSchema = z.looseObject({
  job_id: idSchema,
  batch_id: idSchema.nullable().optional(),
  timestamp: z.string().optional(),
  /** The Modal app that sent it (the status endpoint counts apps by it). */
  app: idSchema.optional(),
  /** A synthetic delivery from the admin's test endpoint: recorded apart, touches no job or batch. */
  test: z.boolean().optional(),
});

/** The webhook body Modal sends when a function call ends. */
export const completionPayloadSchema = z.looseObject({
  call_id: idSchema,
  status: completionStatusSchema,
  result: resultSchema.nullable().optional(),
  error: errorSchema.nullable().optional(),
  metadata: metadataSchema,
});

export type CompletionPayload = z.output<typeof completionPayloadSchema>;

/** One failing field of a payload, as answered to a signed sender. */
export interface SchemaIssue {
  path: string;
  message: string;
}

export function describeIssues(error: z.ZodError): SchemaIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(root)',
    message: issue.message,
  }));
}

/** Version of the Pub/Sub message contract between webhook and worker. */
export const MESSAGE_SCHEMA_VERSION = '1';

/** Where a completion came from: Modal's webhook, the reconciler's poll, a dead-letter replay, or an operator (admin API). */
export const completionSourceSchema = z.enum(['webhook', 'poll', 'replay', 'manual']);
export type CompletionSource = z.output<typeof completionSourceSchema>;

/**
 * Attributes of a completion message on the completions topic (shared/contract/messages.ts writes and reads
 * them). The data is the verified raw body, or `{}` when the body was claim-checked: then
 * `claim_uri` names where it is.
 */
export const completionAttributesSchema = z.looseObject({
  schema_version: z.literal(MESSAGE_SCHEMA_VERSION),
  kind: z.literal('completion'),
  delivery_id: z.string().regex(/^dlv_[0-9a-f]{32}$/),
  call_id: z.string(),
  status: z.string(),
  job_id: z.string(),
  batch_id: z.string().optional(),
  received_at: z.iso.datetime({ offset: true }),
  source: completionSourceSchema,
  secret_index: z.enum(['0', '1']).optional(),
  signature_scheme: z.enum(['modal', 'standard']).optional(),
  /** Who submitted a manual completion (the verified IAM identity, or what the request named). */
  operator: z.string().max(320).optional(),
  claim_uri: z.string().optional(),
});

/** Asks the worker to check (and finalise) one batch, e.g. after `total_jobs` was written late. */
export const batchCheckAttributesSchema = z.looseObject({
  schema_version: z.literal(MESSAGE_SCHEMA_VERSION),
  kind: z.literal('batch_check'),
  batch_id: idSchema,
});

/** Job status values (`jobs/{job_id}.status`): the backend's pending/queued/running, then these. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'timeout', 'cancelled']);

/** Which batch counter a job was counted in when it first became terminal. */
export type BatchBucket = 'completed' | 'failed';

/** Scores stored on a job (`jobs/{job_id}.result`): the result without the structure file. */
export type StoredResult = Record<string, unknown> & {
  affinity?: number | null;
  confidence?: number | null;
  ptm_score?: number | null;
  iptm_score?: number | null;
  plddt_score?: number | null;
  execution_time?: number | null;
};

/**
 * `jobs/{job_id}` as this pipeline reads it; the backend's own fields pass through untouched. Read
 * back through this schema (Firestore Timestamps already turned into Dates), never cast.
 */
export const jobDocSchema = z.looseObject({
  status: z.string().optional(),
  modal_call_id: z.string().optional(),
  batch_id: z.string().nullable().optional(),
  result: z.record(z.string(), z.unknown()).nullable().optional(),
  result_uri: z.string().nullable().optional(),
  structure_uri: z.string().nullable().optional(),
  error: z.record(z.string(), z.unknown()).nullable().optional(),
  delivery_id: z.string().optional(),
  batch_bucket: z.enum(['completed', 'failed']).nullable().optional(),
  late_events: z.array(z.unknown()).optional(),
});
export type JobDoc = z.output<typeof jobDocSchema> & { result?: StoredResult | null };

/** `batches/{batch_id}`: `total_jobs` comes from whoever launched the batch; counters from us. */
export const batchDocSchema = z.looseObject({
  total_jobs: z.number().optional(),
  completed_jobs: z.number().optional(),
  failed_jobs: z.number().optional(),
  status: z.string().optional(),
  summary: z.unknown().optional(),
  summary_uri: z.string().optional(),
  batch_event_published: z.boolean().optional(),
  completed_at: z.date().optional(),
  /** When `completed_jobs` / `failed_jobs` were last written from the counter shards. */
  counts_updated_at: z.date().optional(),
  finalized_by: z.string().optional(),
  finalization: z.object({ by: z.string(), at: z.date() }).optional(),
});
export type BatchDoc = z.output<typeof batchDocSchema>;

/** `executions/{call_id}`: a Modal call the backend registered, or one whose completion arrived. */
export const executionDocSchema = z.looseObject({
  call_id: z.string(),
  job_id: z.string(),
  batch_id: z.string().nullable().optional(),
  app: z.string().nullable().optional(),
  status: z.string(),
  registered_at: z.date().optional(),
  updated_at: z.date().optional(),
});
export type ExecutionDoc = z.output<typeof executionDocSchema>;

/** Counters a webhook instance sends to the worker (kind `webhook_stats`), per minute. */
export const webhookStatsSchema = z.object({
  instance: z.string().regex(/^[a-z0-9]{1,32}$/),
  seq: z.number().int().nonnegative(),
  minutes: z.record(
    z.iso.datetime(),
    z.object({
      accepted: z.number().int().nonnegative(),
      rejected: z.record(z.string(), z.number().int().nonnegative()),
      /** Accepted requests by signature scheme (modal, standard). */
      by_scheme: z.record(z.string(), z.number().int().nonnegative()).optional(),
    }),
  ),
});
export type WebhookStats = z.output<typeof webhookStatsSchema>;
