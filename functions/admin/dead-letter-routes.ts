/**
 * The dead letters' routes: the list, the newest first (never their data), and the one replay path
 * (the page and `npm run dead-letters` both use it): each sent back as it was, marked
 * `replayed_from`, and marked replayed; the worker writes what became of it on its record.
 */
import type { AdminConfig } from '../../shared/config/config';
import { createCompletionSender } from '../../shared/completion/completion-sender';
import type { Logger } from '../../shared/observability/log';
import type { Clock, OperatorStore, Publisher } from '../../shared/ports';
import { operatorOf } from './identity';
import { deadLetterQuerySchema, listingToken, parse, replaySchema } from './requests';
import { route, type Route } from './router';

export interface DeadLetterRouteDeps {
  config: Readonly<AdminConfig>;
  operator: OperatorStore;
  completions: Publisher;
  clock: Clock;
  logger: Logger;
}

/** Attributes Pub/Sub adds to a dead-lettered message, and an earlier replay's marks: not sent back. */
const NOT_REPLAYED = /^CloudPubSubDeadLetter|^replayed_from$|^source$/;

export function createDeadLetterRoutes(prefix: string, deps: DeadLetterRouteDeps): Route[] {
  const { config, operator, clock, logger } = deps;
  const sender = createCompletionSender(deps.completions);
  return [
    route('GET', `${prefix}/dead-letters`, async (req) => {
      const q = parse(deadLetterQuerySchema, req.query, 'query');
      const page = await operator.listDeadLetters({ limit: q.limit, after: listingToken(q.page_token) });
      const now = clock().getTime();
      return {
        status: 200,
        body: {
          dead_letters: page.items.map((d) => ({
            ...d,
            age_seconds: d.recorded_at ? Math.max(0, Math.round((now - d.recorded_at.getTime()) / 1000)) : null,
          })),
          next_page_token: page.next ?? null,
        },
      };
    }),

    route('POST', `${prefix}/dead-letters/replay`, async (req) => {
      const { ids } = parse(replaySchema, req.body, 'body');
      const by = operatorOf(req, config.deployed) ?? 'unknown';
      const replayed: Array<{ id: string; message_id: string; delivery_id: string | null }> = [];
      const skipped: Array<{ id: string; reason: string }> = [];
      for (const id of ids) {
        const letter = await operator.getDeadLetter(id);
        if (!letter) skipped.push({ id, reason: 'no such dead letter' });
        else if (letter.replayed)
          skipped.push({ id, reason: `already replayed at ${letter.replayed_at?.toISOString()}` });
        else if (!letter.data)
          skipped.push({ id, reason: 'its data was not kept (over 512 KiB): resend it from Modal' });
        else {
          const attributes = Object.fromEntries(
            Object.entries(letter.attributes).filter(([k]) => !NOT_REPLAYED.test(k)),
          );
          const sent = await sender.replay(letter.data, attributes, id);
          await operator.markReplayed(id, { at: clock(), messageId: sent.messageId, by });
          replayed.push({ id, message_id: sent.messageId, delivery_id: sent.deliveryId ?? null });
        }
      }
      logger.log('INFO', 'deadLettersReplayed', `replayed ${replayed.length} dead letters, skipped ${skipped.length}`, {
        replayed: replayed.map((r) => r.id),
        skipped: skipped.map((s) => s.id),
        operator: by,
      });
      return { status: 200, body: { replayed, skipped } };
    }),
  ];
}
