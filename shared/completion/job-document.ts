/**
 * What of a completion goes into the job document. Pure.
 *
 * A Firestore document holds at most 1 MiB, maps nest at most 20 deep, arrays cannot hold arrays,
 * and field names must be non-empty, under 1,500 bytes and not of the reserved `__x__` form. Modal's
 * `result` and `error` may carry anything JSON allows, so the document keeps the scores and a bounded
 * error summary, and extra fields only when they are small and storable; the full content always
 * reaches the stored `result.json` / `error.json`. A completion can then never be refused by
 * Firestore for its content, whatever a validly signed sender put in it.
 */
import { SCORE_FIELDS } from '../batch/batch';
import type { CompletionPayload, StoredResult } from '../contract/schemas';

/** Extra result/error fields stay on the document up to this JSON size; beyond, only in the file. */
export const MAX_DOCUMENT_EXTRAS_BYTES = 16 * 1024;
export const MAX_ERROR_MESSAGE_CHARS = 2000;
export const MAX_ERROR_TYPE_CHARS = 200;
/** The end of a traceback is where the cause is: the document keeps its last characters. */
export const MAX_TRACEBACK_CHARS = 8000;
const FIRESTORE_MAX_DEPTH = 20;
const FIRESTORE_MAX_FIELD_NAME_BYTES = 1500;

/** Whether Firestore can store `value` as a field value (depth counted from the field itself). */
export function isFirestoreStorable(value: unknown, depth = 1): boolean {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth > FIRESTORE_MAX_DEPTH || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.every((item) => !Array.isArray(item) && isFirestoreStorable(item, depth + 1));
  return Object.entries(value).every(
    ([key, item]) =>
      key.length > 0 &&
      Buffer.byteLength(key) <= FIRESTORE_MAX_FIELD_NAME_BYTES &&
      !/^__.*__$/.test(key) &&
      isFirestoreStorable(item, depth + 1),
  );
}

/** `extras` when they fit on the document, else undefined (they are in the file). */
function storableExtras(extras: Record<string, unknown>): Record<string, unknown> | undefined {
  if (Object.keys(extras).length === 0) return {};
  if (!isFirestoreStorable(extras)) return undefined;
  return Buffer.byteLength(JSON.stringify(extras)) <= MAX_DOCUMENT_EXTRAS_BYTES ? extras : undefined;
}

function bounded(text: unknown, max: number, keep: 'start' | 'end'): { text: string | undefined; cut: boolean } {
  if (typeof text !== 'string') return { text: undefined, cut: false };
  if (text.length <= max) return { text, cut: false };
  return { text: keep === 'start' ? text.slice(0, max) : text.slice(text.length - max), cut: true };
}

export interface DocumentResult {
  /** Scores (and small extras) for `jobs/{id}.result`. */
  result: StoredResult | null;
  /** True when extra result fields are only in result.json. */
  extrasInFile: boolean;
}

/** The result fields a job document keeps. The structure file itself never goes there. */
export function documentResult(payload: CompletionPayload): DocumentResult {
  if (!payload.result) return { result: null, extrasInFile: false };
  const { structure_file_base64: _structure, ...fields } = payload.result;
  // Every score is on the document, null when not reported: the batch ranking's ordered query
  // (by affinity, then confidence) only sees documents that have the fields it orders by.
  const scores: Record<string, unknown> = Object.fromEntries(
    SCORE_FIELDS.map((field) => [field, fields[field] ?? null]),
  );
  const extras: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!(SCORE_FIELDS as readonly string[]).includes(key)) extras[key] = value;
  }
  const kept = storableExtras(extras);
  return { result: { ...(kept ?? {}), ...scores }, extrasInFile: kept === undefined };
}

export interface ErrorSummary {
  message: string;
  type?: string;
  traceback?: string;
  /** True when the full error (longer texts, extra fields) is only in error.json. */
  truncated?: boolean;
  [field: string]: unknown;
}

/** A bounded summary of the error a failed or timed-out call reported. */
export function documentError(payload: CompletionPayload): { error: ErrorSummary; detailsInFile: boolean } {
  const raw = payload.error ?? { message: `Modal call ended with ${payload.status}` };
  const { message, type, traceback, ...rest } = raw as {
    message?: unknown;
    type?: unknown;
    traceback?: unknown;
  } & Record<string, unknown>;
  const m = bounded(message ?? `Modal call ended with ${payload.status}`, MAX_ERROR_MESSAGE_CHARS, 'start');
  const t = bounded(type, MAX_ERROR_TYPE_CHARS, 'start');
  const tb = bounded(traceback, MAX_TRACEBACK_CHARS, 'end');
  const kept = storableExtras(rest);
  const detailsInFile = m.cut || t.cut || tb.cut || kept === undefined;
  const error: ErrorSummary = {
    ...(kept ?? {}),
    message: m.text ?? String(message),
    ...(t.text !== undefined ? { type: t.text } : {}),
    ...(tb.text !== undefined ? { traceback: tb.text } : {}),
    ...(detailsInFile ? { truncated: true } : {}),
  };
  return { error, detailsInFile };
}
