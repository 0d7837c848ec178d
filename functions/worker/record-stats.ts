/** Use-case of a `webhook_stats` message: one webhook instance's per-minute counters, stored idempotently. */
import { PermanentMessageError } from '../../shared/platform/errors';
import type { JobStore } from '../../shared/ports';
import { webhookStatsSchema } from '../../shared/contract/schemas';
import { dataOf, type PubSubMessage, type WorkerOutcome } from './types';

export function createRecordStats(jobs: Pick<JobStore, 'recordWebhookStats'>) {
  return async function recordStats(message: PubSubMessage): Promise<WorkerOutcome> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(dataOf(message).toString('utf8'));
    } catch {
      throw new PermanentMessageError('invalid_json', 'webhook_stats data is not valid JSON');
    }
    const stats = webhookStatsSchema.safeParse(parsed);
    if (!stats.success)
      throw new PermanentMessageError('invalid_payload', 'webhook_stats message does not match its schema');
    const { instance, seq, minutes } = stats.data;
    await Promise.all(
      Object.entries(minutes).map(([minute, counts]) =>
        jobs.recordWebhookStats(`${minute.replace(/[^0-9]/g, '')}_${instance}_${seq}`, {
          minute: new Date(minute),
          instance,
          accepted: counts.accepted,
          rejected: counts.rejected,
          ...(counts.by_scheme ? { by_scheme: counts.by_scheme } : {}),
        }),
      ),
    );
    return { kind: 'stats_recorded', minutes: Object.keys(minutes).length };
  };
}
