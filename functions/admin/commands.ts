/**
 * The admin API's commands: cancel an execution (forwarded to Modal), register executions and
 * batches, and send a signed test delivery through the real webhook.
 */
import { randomBytes } from 'node:crypto';
import type { AdminConfig } from '../../shared/config/config';
import { planCancel } from '../../shared/completion/completion';
import { deliveryId } from '../../shared/contract/delivery';
import { HttpError } from '../../shared/platform/errors';
import type { Logger } from '../../shared/observability/log';
import { createCompletionSender } from '../../shared/completion/completion-sender';
import { decodeCompletionBody, encodeBatchCheck } from '../../shared/contract/messages';
import type { ModalClient, SignedAnswer } from '../../shared/modal/modal-client';
import type { AdminStore, Clock, Publisher } from '../../shared/ports';
import { idSchema, TERMINAL_STATUSES } from '../../shared/contract/schemas';
import { cancelSchema, parse, registerBatchSchema, registerExecutionSchema, testSchema } from './requests';
import { operatorOf } from './identity';
import { route, type Route } from './router';

export interface CommandDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  /** The completions topic: batch checks after registration or cancel. */
  completions: Publisher;
  modal: ModalClient;
  clock: Clock;
  logger: Logger;
}

export function createCommandRoutes(prefix: string, deps: CommandDeps): Route[] {
  const { config, store, clock, logger, modal: client } = deps;
  const PREFIX = prefix;

  async function publishBatchCheck(batchId: string): Promise<void> {
    const message = encodeBatchCheck(batchId);
    await deps.completions.publish(message.data, message.attributes);
  }

  const sender = createCompletionSender(deps.completions);

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

  return [
    route('POST', `${PREFIX}/completions`, async (req) => {
      // The seed's manual processing: an operator who knows a call's outcome submits its completion.
      // Decoded from the raw bytes by the webhook's own decoder, so the same payloads pass.
      const verdict = decodeCompletionBody(req.rawBody ?? Buffer.from(JSON.stringify(req.body ?? {})));
      if (!verdict.ok)
        throw new HttpError(
          verdict.code === 'invalid_json' ? 'invalid_json' : 'invalid_payload',
          verdict.code === 'invalid_json' ? 400 : 422,
          verdict.message,
          { issues: verdict.issues },
        );
      const payload = verdict.payload;
      const operator = operatorOf(req, config.deployed);
      if (!operator)
        throw new HttpError(
          'unauthenticated',
          401,
          "a manual completion needs the operator's identity: call with an identity token (gcloud auth print-identity-token)",
        );
      const sent = await sender.manual(payload, operator, clock());
      logger.log('INFO', 'manualCompletionAccepted', 'manual completion queued', {
        call_id: payload.call_id,
        job_id: payload.metadata.job_id,
        batch_id: payload.metadata.batch_id ?? undefined,
        delivery_id: sent.deliveryId,
        operator,
      });
      return {
        status: 202,
        body: {
          status: 'accepted',
          source: 'manual',
          delivery_id: sent.deliveryId,
          message_id: sent.messageId,
          operator,
        },
      };
    }),

    route('POST', `${PREFIX}/executions/{call_id}/cancel`, async (req, p) => {
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
      const plan = await store.applyToJob(execution.job_id, (existing) =>
        planCancel(existing, callId, clock(), reason),
      );
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
    }),

    route('POST', `${PREFIX}/executions`, async (req) => {
      const input = parse(registerExecutionSchema, req.body, 'body');
      const { created, execution } = await store.registerExecution(input, clock());
      logger.log('INFO', 'executionRegistered', created ? 'execution registered' : 'execution was already registered', {
        call_id: input.call_id,
        job_id: input.job_id,
        batch_id: input.batch_id,
      });
      return { status: created ? 201 : 200, body: { created, execution } };
    }),

    route('POST', `${PREFIX}/batches`, async (req) => {
      const input = parse(registerBatchSchema, req.body, 'body');
      const total = input.total_jobs ?? input.job_ids!.length;
      const { created } = await store.registerBatch(
        { batch_id: input.batch_id, total_jobs: total, job_ids: input.job_ids },
        clock(),
      );
      // Jobs may have finished before the batch was registered: let the worker finalise it.
      await publishBatchCheck(input.batch_id);
      logger.log('INFO', 'batchRegistered', 'batch registered', { batch_id: input.batch_id, total_jobs: total });
      return { status: created ? 201 : 200, body: { created, batch_id: input.batch_id, total_jobs: total } };
    }),

    route('POST', `${PREFIX}/modal/test`, async (req) => {
      const { wait } = parse(testSchema, req.body, 'body');
      if (!config.webhookUrl)
        throw new HttpError('not_configured', 503, 'WEBHOOK_URL is not set: there is no webhook to test');
      const suffix = randomBytes(6).toString('hex');
      const payload = {
        call_id: `test-call-${suffix}`,
        status: 'success',
        result: { affinity: 0, confidence: 0, execution_time: 0 },
        metadata: { job_id: `test-job-${suffix}`, test: true, timestamp: clock().toISOString() },
      };
      const started = clock().getTime();
      let sent: SignedAnswer;
      try {
        sent = await client.signedPost(config.webhookUrl, payload);
      } catch (err) {
        return {
          status: 502,
          body: { status: 'unreachable', delivered: false, error: String(err), webhook_url: config.webhookUrl },
        };
      }
      const acceptedMs = clock().getTime() - started;
      const base = {
        delivery_id: deliveryId(payload.call_id, 'success'),
        call_id: payload.call_id,
        webhook_url: config.webhookUrl,
        webhook_status: sent.status,
        accepted_ms: acceptedMs,
      };
      if (sent.status !== 202) {
        return { status: 502, body: { status: 'rejected', delivered: false, ...base, webhook_response: sent.text } };
      }
      if (!wait) return { status: 202, body: { status: 'accepted', delivered: true, arrived: null, ...base } };
      const deadline = started + config.testTimeoutMs;
      while (clock().getTime() < deadline) {
        const arrived = await store.getTest(payload.metadata.job_id);
        if (arrived) {
          return {
            status: 200,
            body: {
              status: 'ok',
              delivered: true,
              arrived: true,
              ...base,
              end_to_end_ms: clock().getTime() - started,
              processing_latency_ms: arrived.processing_latency_ms ?? null,
            },
          };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return {
        status: 504,
        body: { status: 'not_arrived', delivered: true, arrived: false, ...base, waited_ms: config.testTimeoutMs },
      };
    }),
  ];
}
