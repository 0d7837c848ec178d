/**
 * The admin API's commands: a completion by hand, register executions and batches; cancel
 * (cancel.ts) and the signed test delivery (test-delivery.ts) in files of their own.
 */
import type { AdminConfig } from '../../shared/config/config';
import { HttpError } from '../../shared/platform/errors';
import type { Logger } from '../../shared/observability/log';
import { createCompletionSender } from '../../shared/completion/completion-sender';
import { decodeCompletionBody, encodeBatchCheck } from '../../shared/contract/messages';
import type { ModalClient } from '../../shared/modal/modal-client';
import type { AdminStore, Clock, Publisher } from '../../shared/ports';
import { createCancelRoute } from './cancel';
import { parse, registerBatchSchema, registerExecutionSchema } from './requests';
import { operatorOf } from './identity';
import { route, type Route } from './router';
import { createTestDeliveryRoute } from './test-delivery';

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
  const { config, store, clock, logger } = deps;
  const PREFIX = prefix;

  async function publishBatchCheck(batchId: string): Promise<void> {
    const message = encodeBatchCheck(batchId);
    await deps.completions.publish(message.data, message.attributes);
  }

  const sender = createCompletionSender(deps.completions);

  return [
    createCancelRoute(PREFIX, { ...deps, publishBatchCheck }),
    createTestDeliveryRoute(PREFIX, deps),
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
  ];
}
