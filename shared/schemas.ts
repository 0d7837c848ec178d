/**
 * The contracts, as zod schemas, with their TypeScript types derived:
 * - the Modal completion webhook payload (the seed guide's shape, unknown fields kept);
 * - the Pub/Sub message the webhook publishes (attributes of schema version 1);
 * - the Firestore documents the worker writes (`jobs/{job_id}`, `batches/{batch_id}`).
 */
import { z } from 'zod';

/**
 * Identifiers end up as Firestore document ids and Cloud Storage path segments, so they are
 * limited to characters that are safe in both (no `/`, no `..`).
 */
export const idSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'must start with a letter or digit and contain only letters, digits and . _ : @ -');

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

/**
 * Attributes of a completion message on the completions topic. The data is the verified raw body,
 * or, for a claim-checked body, a small JSON pointer and `claim_uri` names where the body is.
 */
export const completionAttributesSchema = z.looseObject({
  schema_version: z.literal(MESSAGE_SCHEMA_VERSION),
  kind: z.literal('completion'),
  delivery_id: z.string().min(1),
  call_id: z.string(),
  status: z.string(),
  job_id: z.string(),
  batch_id: z.string().optional(),
  received_at: z.iso.datetime({ offset: true }),
  source: z.enum(['webhook', 'poll', 'replay']).optional(),
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

/** `jobs/{job_id}` as this pipeline reads it; the backend's own fields pass through untouched. */
export interface JobDoc {
  status?: string;
  modal_call_id?: string;
  batch_id?: string | null;
  result?: StoredResult | null;
  result_uri?: string | null;
  structure_uri?: string | null;
  error?: Record<string, unknown> | null;
  delivery_id?: string;
  batch_bucket?: BatchBucket | null;
  [field: string]: unknown;
}

/** `batches/{batch_id}`: `total_jobs` comes from whoever launched the batch; counters from us. */
export interface BatchDoc {
  total_jobs?: number;
  completed_jobs?: number;
  failed_jobs?: number;
  status?: string;
  summary?: unknown;
  summary_uri?: string;
  batch_event_published?: boolean;
  [field: string]: unknown;
}

/** Counters a webhook instance sends to the worker (kind `webhook_stats`), per minute. */
export const webhookStatsSchema = z.object({
  instance: z.string().regex(/^[a-z0-9]{1,32}$/),
  seq: z.number().int().nonnegative(),
  minutes: z.record(
    z.iso.datetime(),
    z.object({ accepted: z.number().int().nonnegative(), rejected: z.record(z.string(), z.number().int().nonnegative()) }),
  ),
});
export type WebhookStats = z.output<typeof webhookStatsSchema>;
