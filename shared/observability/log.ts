/**
 * Structured logs: one JSON line per event with `severity`, `message` and ids — what Cloud Logging
 * parses from stdout. Events have stable names so that log-based metrics can count them. Callers
 * pass ids (call_id, job_id, batch_id, delivery_id), never secrets or payloads.
 */

import { AsyncLocalStorage } from 'node:async_hooks';

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** Named events; log-based metrics filter on `jsonPayload.event`. */
export type LogEvent =
  | 'configLoaded'
  | 'configWarning'
  | 'webhookAccepted'
  | 'webhookDryRun'
  | 'webhookReplayed'
  | 'signatureRejected'
  | 'requestRejected'
  | 'requestFailed'
  | 'publishFailed'
  | 'claimCheckStored'
  | 'completionApplied'
  | 'completionDuplicate'
  | 'completionLate'
  | 'completionFailed'
  | 'completionDeferred'
  | 'messageDeadLettered'
  | 'replayOutcomeNotRecorded'
  | 'batchCountsUpdated'
  | 'batchCompleted'
  | 'batchSummaryUpdated'
  | 'batchSummaryFullScan'
  | 'batchEventPublished'
  | 'testDeliveryArrived'
  | 'statsPublishFailed'
  | 'adminRequest'
  | 'adminRejected'
  | 'executionRegistered'
  | 'batchRegistered'
  | 'manualCompletionAccepted'
  | 'modalConfigured'
  | 'executionCancelled'
  | 'cancelForwardFailed'
  | 'reconcileStarted'
  | 'reconcileFinished'
  | 'reconcilePassNotRecorded'
  | 'deadLettersReplayed'
  | 'executionPolled'
  | 'executionStale'
  | 'pollFailed';

export type LogFields = Record<string, unknown>;

/** Where log lines go; tests pass one that keeps them. */
export interface Logger {
  log(severity: Severity, event: LogEvent, message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LineSink = (line: string) => void;

/**
 * Fields every line written while `work` runs carries (the worker: one message's trace), whichever
 * logger writes it — the use-cases and the batch finaliser need not pass them along.
 */
const context = new AsyncLocalStorage<LogFields>();
export function withLogContext<T>(fields: LogFields, work: () => T): T {
  return Object.keys(fields).length ? context.run({ ...context.getStore(), ...fields }, work) : work();
}

/** A logger writing JSON lines; `base` fields (ids, trace) and the current log context are added to every line. */
export function createLogger(
  sink: LineSink = (line) => process.stdout.write(line + '\n'),
  base: LogFields = {},
): Logger {
  return {
    log(severity, event, message, fields = {}) {
      sink(
        JSON.stringify({
          severity,
          message,
          event,
          ...context.getStore(),
          ...base,
          ...fields,
          time: new Date().toISOString(),
        }),
      );
    },
    child(fields) {
      return createLogger(sink, { ...base, ...fields });
    },
  };
}

/** Cloud Logging's trace field from an `X-Cloud-Trace-Context` or `traceparent` header. */
export function traceFields(
  projectId: string | undefined,
  header: string | undefined,
  traceparent?: string,
): LogFields {
  return traceFieldsOfId(projectId, traceIdOf(header, traceparent));
}

/** The trace id of an `X-Cloud-Trace-Context` or W3C `traceparent` header (32 hex digits), if any. */
export function traceIdOf(header: string | undefined, traceparent?: string): string | undefined {
  const traceId = header?.split('/')[0] || traceparent?.split('-')[1];
  if (!traceId || !/^[0-9a-f]{16,32}$/i.test(traceId) || /^0+$/.test(traceId)) return undefined;
  return traceId.toLowerCase().padStart(32, '0');
}

/** Cloud Logging's trace field for a trace id: "show entries for this trace" finds the line. */
export function traceFieldsOfId(projectId: string | undefined, traceId: string | undefined): LogFields {
  if (!traceId) return {};
  return { 'logging.googleapis.com/trace': projectId ? `projects/${projectId}/traces/${traceId}` : traceId };
}

/** A logger that keeps parsed lines in memory, for tests and the local runner. */
export function memoryLogger(): Logger & { lines: LogFields[] } {
  const lines: LogFields[] = [];
  const logger = createLogger((line) => lines.push(JSON.parse(line) as LogFields));
  return Object.assign(logger, { lines });
}
