/**
 * The migration from polling (CloudEvent function `reconcileExecutions`, run by Cloud Scheduler
 * through Pub/Sub). By COMPLETION_MODE, the seed guide's three phases:
 * - `dual`: every running execution is polled on Modal's status endpoint, as the poller did;
 * - `webhook_primary`: only executions running longer than STALE_AFTER_SECONDS are polled
 *   (the fallback for a missed webhook);
 * - `webhook_only`: no polling; executions running longer than STALE_AFTER_SECONDS are marked
 *   `stale` and logged as `executionStale` (alert-worthy: a webhook went missing).
 * What a poll learns goes through the same idempotent path as a webhook: a completion message on
 * the completions topic, marked `source: poll`, which the worker applies (and counts by source).
 */
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { ReconcilerConfig } from '../../shared/config/config';
import type { Logger } from '../../shared/observability/log';
import type { ExecutionDoc } from '../../shared/contract/schemas';
import type { Clock, Publisher, ReconcilerStore } from '../../shared/ports';
import { createCompletionSender } from '../../shared/completion/completion-sender';
import { completionPayloadSchema } from '../../shared/contract/schemas';
import { createModalClient } from '../../shared/modal/modal-client';

export interface ReconcilerDeps {
  config: Readonly<ReconcilerConfig>;
  store: ReconcilerStore;
  completions: Publisher;
  fetch: typeof fetch;
  clock: Clock;
  logger: Logger;
}

export interface ReconcileSummary {
  mode: ReconcilerConfig['mode'];
  examined: number;
  polled: number;
  completed_by_poll: number;
  still_running: number;
  marked_stale: number;
  poll_failures: number;
}

const PAGE = 200;
const POLL_CONCURRENCY = 8;

/**
 * The pass, where the operator page shows the reconciler's last activity. A pass it cannot record
 * still did its work, so the failure is logged, not thrown (the tick is not redelivered for it).
 */
async function recordPass(deps: Pick<ReconcilerDeps, 'store' | 'clock' | 'logger'>, summary: ReconcileSummary) {
  await deps.store
    .recordPass({ ...summary }, deps.clock())
    .catch((err: unknown) =>
      deps.logger.log('WARNING', 'reconcilePassNotRecorded', `the pass was not recorded: ${String(err)}`, {}),
    );
}

export function createReconciler(deps: ReconcilerDeps) {
  const { config, store, clock, logger } = deps;
  const sender = createCompletionSender(deps.completions);
  const modal = createModalClient({
    secret: config.secret,
    fetch: deps.fetch,
    clock,
    userAgent: 'OMTX-Webhooks-Reconciler/1.0',
    timeoutMs: 15_000,
  });

  /** Running executions, oldest first; only those older than the cutoff unless polling all. */
  async function candidates(cutoff: Date | undefined): Promise<ExecutionDoc[]> {
    const found: ExecutionDoc[] = [];
    let after: { registeredAt: Date; callId: string } | undefined;
    for (;;) {
      const page = await store.listExecutions({ status: 'running', limit: PAGE, after });
      for (const e of page) {
        const registered = e.registered_at instanceof Date ? e.registered_at : undefined;
        if (cutoff && registered && registered.getTime() >= cutoff.getTime()) return found;
        found.push(e);
        if (found.length >= config.maxExecutions) return found;
      }
      if (page.length < PAGE) return found;
      const last = page.at(-1)!;
      after = { registeredAt: last.registered_at as Date, callId: last.call_id };
    }
  }

  async function poll(execution: ExecutionDoc): Promise<'completed' | 'running' | 'failed'> {
    try {
      const answer = await modal.status(config.modalStatusUrl!, execution.call_id);
      if (answer.status === 'running' || answer.status === 'pending') return 'running';
      const payload = completionPayloadSchema.parse({
        call_id: execution.call_id,
        status: answer.status,
        result: answer.result ?? null,
        error: answer.error ?? null,
        metadata: {
          job_id: execution.job_id,
          ...(execution.batch_id ? { batch_id: execution.batch_id } : {}),
          ...(execution.app ? { app: execution.app } : {}),
        },
      });
      const { deliveryId: id } = await sender.poll(payload, clock());
      logger.log('INFO', 'executionPolled', `poll found the call ended with ${payload.status}`, {
        call_id: payload.call_id,
        job_id: payload.metadata.job_id,
        batch_id: payload.metadata.batch_id ?? undefined,
        delivery_id: id,
        status: payload.status,
      });
      return 'completed';
    } catch (err) {
      logger.log('WARNING', 'pollFailed', `status poll failed: ${String(err)}`, {
        call_id: execution.call_id,
        job_id: execution.job_id,
      });
      return 'failed';
    }
  }

  async function reconcile(): Promise<ReconcileSummary> {
    const now = clock();
    const cutoff = new Date(now.getTime() - config.staleAfterMs);
    logger.log('INFO', 'reconcileStarted', `reconciling in ${config.mode} mode`, { mode: config.mode });
    const summary: ReconcileSummary = {
      mode: config.mode,
      examined: 0,
      polled: 0,
      completed_by_poll: 0,
      still_running: 0,
      marked_stale: 0,
      poll_failures: 0,
    };
    const found = await candidates(config.mode === 'dual' ? undefined : cutoff);
    summary.examined = found.length;

    if (config.mode === 'webhook_only') {
      for (const e of found) {
        await store.markStale(e.call_id, now);
        summary.marked_stale++;
        logger.log('WARNING', 'executionStale', 'no completion webhook arrived for a running execution', {
          call_id: e.call_id,
          job_id: e.job_id,
          batch_id: e.batch_id ?? undefined,
          age_seconds:
            e.registered_at instanceof Date ? Math.round((now.getTime() - e.registered_at.getTime()) / 1000) : null,
        });
      }
    } else {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(POLL_CONCURRENCY, found.length) }, async () => {
          while (next < found.length) {
            const outcome = await poll(found[next++]!);
            summary.polled++;
            if (outcome === 'completed') summary.completed_by_poll++;
            else if (outcome === 'running') summary.still_running++;
            else summary.poll_failures++;
          }
        }),
      );
    }
    logger.log('INFO', 'reconcileFinished', 'reconciliation finished', { ...summary });
    return summary;
  }

  /** The CloudEvent entry point: any tick (Scheduler message) runs one reconciliation. */
  async function reconcileExecutions(_event: CloudEvent<unknown>): Promise<void> {
    await recordPass(deps, await reconcile());
  }

  return { reconcile, reconcileExecutions };
}
