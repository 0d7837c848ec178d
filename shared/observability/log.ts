/**
 * Structured logs: one JSON line per event with `severity`, `message` and ids — what Cloud Logging
 * parses from stdout. Events have stable names so that log-based metrics can count them. Callers
 * pass ids (call_id, job_id, batch_id, delivery_id), never secrets or payloads.
 */

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
  | 'publishFailed'
  | 'claimCheckStored'
  | 'completionApplied'
  | 'completionDuplicate'
  | 'completionLate'
  | 'completionFailed'
  | 'completionDeferred'
  | 'messageDeadLettered'
  | 'batchCountsUpdated'
  | 'batchCompleted'
  | 'batchSummaryUpdated'
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

/** A logger writing JSON lines; `base` fields (ids, trace) are added to every line. */
export function createLogger(sink: LineSink = (line) => process.stdout.write(line + '\n'), base: LogFields = {}): Logger {
  return {
    log(severity, event, message, fields = {}) {
      sink(JSON.stringify({ severity, message, event, ...base, ...fields, time: new Date().toISOString() }));
    },
    child(fields) {
      return createLogger(sink, { ...base, ...fields });
    },
  };
}

/** Cloud Logging's trace field from an `X-Cloud-Trace-Context` or `traceparent` header. */
export function traceFields(projectId: string | undefined, header: string | undefined, traceparent?: string): LogFields {
  const traceId = header?.split('/')[0] || traceparent?.split('-')[1];
  if (!traceId || !/^[0-9a-f]{16,32}$/i.test(traceId)) return {};
  return { 'logging.googleapis.com/trace': projectId ? `projects/${projectId}/traces/${traceId}` : traceId };
}

/** A logger that keeps parsed lines in memory, for tests and the local runner. */
export function memoryLogger(): Logger & { lines: LogFields[] } {
  const lines: LogFields[] = [];
  const logger = createLogger((line) => lines.push(JSON.parse(line) as LogFields));
  return Object.assign(logger, { lines });
}
