/**
 * `POST …/executions/{call_id}/cancel`: the job marked cancelled (once), its batch checked, and the
 * Modal app told to stop the call — or the answer says plainly why it could not be told.
 */
import type { AdminConfig } from '../../shared/config/config';
import { planCancel } from '../../shared/completion/completion';
import { idSchema, TERMINAL_STATUSES } from '../../shared/contract/schemas';
import type { ModalClient } from '../../shared/modal/modal-client';
import type { Logger } from '../../shared/observability/log';
import { HttpError } from '../../shared/platform/errors';
import type { AdminStore, Clock } from '../../shared/ports';
import { cancelSchema, parse } from './requests';
import { route, type Route } from './router';

export interface CancelDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  modal: ModalClient;
  clock: Clock;
  logger: Logger;
  /** Asks the worker to check a batch (it may be done once the job is cancelled). */
  publishBatchCheck: (batchId: string) => Promise<void>;
}

export function createCancelRoute(PREFIX: string, deps: CancelDeps): Route {
  const { config, store, clock, logger, modal: client, publishBatchCheck } = deps;

  /** Tells the Modal app to stop the call, once, and says plainly when it cannot be told. */
  async function forwardCancel(
    callId: string,
    jobId: string,
    reason: string | undefined,
    first: boolean,
  ): Promise<Record<string, unknown>> {
    if (!config.modalControlUrl) {
      return {
        forwarded: false,
        note: 'MODAL_CONTROL_URL is not set: the job is marked cancelled here, but the Modal call keeps running until it ends',
      };
    }
    if (!first) return { forwarded: false, note: 'already cancelled; the cancel request was forwarded the first time' };
    try {
      const res = await client.cancel(config.modalControlUrl, {
        call_id: callId,
        job_id: jobId,
        reason: reason ?? null,
      });
      return {
        forwarded: res.status < 300,
        modal_status: res.status,
        ...(res.status < 300 ? {} : { modal_response: res.text }),
      };
    } catch (err) {
      logger.log('WARNING', 'cancelForwardFailed', `cancel not forwarded to Modal: ${String(err)}`, {
        call_id: callId,
        job_id: jobId,
      });
      return { forwarded: false, error: String(err) };
    }
  }

  return route('POST', `${PREFIX}/executions/{call_id}/cancel`, async (req, p) => {
    const callId = parse(idSchema, p.call_id, 'call_id');
    const { reason } = parse(cancelSchema, req.body, 'body');
    const execution = await store.getExecution(callId);
    if (!execution) throw new HttpError('execution_not_found', 404, `no execution ${callId}`);
    const job = await store.getJob(execution.job_id);
    if (job?.status && TERMINAL_STATUSES.has(job.status) && job.status !== 'cancelled') {
      throw new HttpError('already_terminal', 409, `job ${execution.job_id} is already ${job.status}`, {
        fields: { job_status: job.status },
      });
    }
    const plan = await store.applyToJob(execution.job_id, (existing) => planCancel(existing, callId, clock(), reason));
    const first = plan.kind === 'apply';
    // Also on a repeated cancel: if the first one failed to publish, the batch still gets checked.
    const batchId = (plan.kind === 'apply' ? plan.batch?.batchId : undefined) ?? job?.batch_id ?? execution.batch_id;
    if (batchId) await publishBatchCheck(batchId);

    const modal = await forwardCancel(callId, execution.job_id, reason, first);
    logger.log('INFO', 'executionCancelled', first ? 'execution cancelled' : 'execution already cancelled', {
      call_id: callId,
      job_id: execution.job_id,
      batch_id: execution.batch_id ?? undefined,
      forwarded: modal.forwarded,
    });
    return {
      status: 200,
      body: {
        status: first ? 'cancelled' : 'already_cancelled',
        call_id: callId,
        job_id: execution.job_id,
        batch_id: execution.batch_id ?? null,
        modal,
      },
    };
  });
}
