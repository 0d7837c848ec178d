/**
 * The message contract, written once. Every producer (webhook, reconciler, dead-letter replay) and
 * the worker go through these functions:
 * - `decodeCompletionBody`: bytes → validated payload. The webhook answers 400/422 with its verdict
 *   before any 202, and the worker reaches the same verdict on the same bytes, so nothing the webhook
 *   accepted can fail to parse in the worker.
 * - `encodeCompletion` / `decodeCompletionEnvelope`: the Pub/Sub attributes and data of a completion
 *   (claim check included). A bad envelope is an error the worker dead-letters, never a default.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { deliveryId } from './delivery';
import type { SignatureScheme } from './signature';
import {
  completionAttributesSchema,
  completionPayloadSchema,
  describeIssues,
  MESSAGE_SCHEMA_VERSION,
  type CompletionPayload,
  type CompletionSource,
  type SchemaIssue,
  type WebhookStats,
} from './schemas';

/** Deepest nesting of objects and arrays a payload may have; deeper ones are refused (422). */
export const MAX_JSON_DEPTH = 32;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NOT_UTF8_JSON = { ok: false, code: 'invalid_json', message: 'body is not valid UTF-8 JSON' } as const;

export type BodyVerdict =
  | { ok: true; payload: CompletionPayload }
  | { ok: false; code: 'invalid_json' | 'invalid_payload'; message: string; issues?: SchemaIssue[] };

/**
 * The charset a `Content-Type` names, when it names one other than UTF-8 (the only one accepted:
 * RFC 8259 JSON between systems is UTF-8). `undefined` means acceptable.
 */
export function unsupportedCharset(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '');
  if (!match) return undefined;
  const charset = match[1]!.toLowerCase();
  return charset === 'utf-8' || charset === 'utf8' ? undefined : charset || '(empty)';
}

/** Nesting depth of a parsed JSON value, computed without recursion (a hostile body may be 10,000 deep). */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** The one decoding of a completion body: UTF-8 (a leading BOM ignored), JSON, bounded depth, schema. */
export function decodeCompletionBody(body: Buffer): BodyVerdict {
  const bytes = body.subarray(0, 3).equals(UTF8_BOM) ? body.subarray(3) : body;
  if (!isUtf8(bytes)) return NOT_UTF8_JSON;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return NOT_UTF8_JSON;
  }
  return validateCompletion(json);
}

function validateCompletion(json: unknown): BodyVerdict {
  if (jsonDepth(json, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    return {
      ok: false,
      code: 'invalid_payload',
      message: 'payload does not match the completion schema',
      issues: [{ path: '(root)', message: `nesting deeper than ${MAX_JSON_DEPTH} levels` }],
    };
  }
  const parsed = completionPayloadSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      code: 'invalid_payload',
      message: 'payload does not match the completion schema',
      issues: describeIssues(parsed.error),
    };
  }
  return { ok: true, payload: parsed.data };
}

/** What travels with a completion besides its body. */
export interface CompletionMeta {
  deliveryId: string;
  receivedAt: Date;
  source: CompletionSource;
  /** Which accepted secret verified it (0 current, 1 previous); webhook deliveries only. */
  secretIndex?: number;
  /** Which signature scheme it was verified by; webhook deliveries only. */
  scheme?: SignatureScheme;
  /** Where a claim-checked body is stored. */
  claimUri?: string;
  /** The trace of the request that brought it (32 hex digits). */
  traceId?: string;
  /** Who submitted a manual completion. */
  operator?: string;
}

const CLAIM_CHECKED_DATA = Buffer.from('{}');

export interface EncodedMessage {
  data: Buffer;
  attributes: Record<string, string>;
}

/**
 * A completion as a Pub/Sub message: the body as received (or nothing, when it was claim-checked and
 * `meta.claimUri` says where it is) and the attributes every consumer reads.
 */
export function encodeCompletion(body: Buffer, payload: CompletionPayload, meta: CompletionMeta): EncodedMessage {
  const attributes: Record<string, string> = {
    schema_version: MESSAGE_SCHEMA_VERSION,
    kind: 'completion',
    delivery_id: meta.deliveryId,
    call_id: payload.call_id,
    status: payload.status,
    job_id: payload.metadata.job_id,
    received_at: meta.receivedAt.toISOString(),
    source: meta.source,
    ...(payload.metadata.batch_id ? { batch_id: payload.metadata.batch_id } : {}),
    ...(meta.secretIndex !== undefined ? { secret_index: String(meta.secretIndex) } : {}),
    ...(meta.scheme ? { signature_scheme: meta.scheme } : {}),
    ...(meta.claimUri ? { claim_uri: meta.claimUri } : {}),
    ...(meta.operator ? { operator: meta.operator } : {}),
    // W3C trace context: the worker's lines join the webhook request's trace in Cloud Logging.
    ...(meta.traceId ? { traceparent: `00-${meta.traceId}-${randomBytes(8).toString('hex')}-01` } : {}),
  };
  // A claim-checked message still carries a non-empty body: the Functions Framework turns a push
  // into a CloudEvent only when `message.data` is present.
  return { data: meta.claimUri ? CLAIM_CHECKED_DATA : body, attributes };
}

/** The trace id a message carries in its `traceparent` attribute, if it is well-formed (never a reason to refuse it). */
export function messageTraceId(attributes: Record<string, string>): string | undefined {
  const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(attributes.traceparent ?? '');
  return m && !/^0+$/.test(m[1]!) ? m[1] : undefined;
}

/** A completion a producer built itself (reconciler, manual): body and delivery id from the payload. */
export function encodeOwnCompletion(
  payload: CompletionPayload,
  source: CompletionSource,
  receivedAt: Date,
  operator?: string,
): EncodedMessage {
  const body = Buffer.from(JSON.stringify(payload));
  return encodeCompletion(body, payload, {
    deliveryId: deliveryId(payload.call_id, payload.status),
    receivedAt,
    source,
    ...(operator ? { operator } : {}),
  });
}

export type EnvelopeVerdict = { ok: true; meta: CompletionMeta } | { ok: false; message: string };

/** Reads a completion's attributes; anything missing or malformed is a verdict, never a default. */
export function decodeCompletionEnvelope(attributes: Record<string, string>): EnvelopeVerdict {
  const parsed = completionAttributesSchema.safeParse(attributes);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error as z.ZodError)
      .map((i) => `${i.path}: ${i.message}`)
      .join('; ');
    return { ok: false, message: `completion attributes do not match the message contract (${issues})` };
  }
  const a = parsed.data;
  return {
    ok: true,
    meta: {
      deliveryId: a.delivery_id,
      receivedAt: new Date(a.received_at),
      source: a.source,
      ...(a.secret_index !== undefined ? { secretIndex: Number(a.secret_index) } : {}),
      ...(a.signature_scheme !== undefined ? { scheme: a.signature_scheme } : {}),
      ...(a.claim_uri ? { claimUri: a.claim_uri } : {}),
      ...(a.operator ? { operator: a.operator } : {}),
    },
  };
}

/** Whether the body the worker decoded is the one the attributes describe (a replay may not swap it). */
export function envelopeMatches(meta: CompletionMeta, payload: CompletionPayload): boolean {
  return meta.deliveryId === deliveryId(payload.call_id, payload.status);
}

/** The `batch.completed` event downstream consumers read; `event_id` lets them drop a repeat. */
export function encodeBatchCompleted(batchId: string, summaryUri: string | undefined): EncodedMessage {
  return {
    data: Buffer.from(JSON.stringify({ type: 'batch.completed', batch_id: batchId, summary_uri: summaryUri ?? null })),
    attributes: {
      schema_version: MESSAGE_SCHEMA_VERSION,
      type: 'batch.completed',
      batch_id: batchId,
      event_id: `batch.completed:${batchId}`,
    },
  };
}

/** Asks the worker to check (and finalise) one batch, e.g. after `total_jobs` was written late. */
export function encodeBatchCheck(batchId: string): EncodedMessage {
  return {
    data: Buffer.from('{}'),
    attributes: { schema_version: MESSAGE_SCHEMA_VERSION, kind: 'batch_check', batch_id: batchId },
  };
}

/** One flush of a webhook instance's counters, for the worker to store. */
export function encodeWebhookStats(stats: WebhookStats): EncodedMessage {
  return {
    data: Buffer.from(JSON.stringify(stats)),
    attributes: { schema_version: MESSAGE_SCHEMA_VERSION, kind: 'webhook_stats' },
  };
}

/**
 * A dead letter sent back to the completions topic: the same data and attributes, marked
 * `source: replay` and where it came from. The delivery id is kept, so an already applied
 * completion stays a no-op.
 */
export function encodeReplay(data: Buffer, attributes: Record<string, string>, from: string): EncodedMessage {
  return { data, attributes: { ...attributes, source: 'replay', replayed_from: from } };
}
