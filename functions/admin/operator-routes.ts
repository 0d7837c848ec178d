/**
 * The admin API's routes for the operator page (and scripts): the overview, batches with their
 * progress, one batch's jobs, dead letters, and their replay. Reads are paged and limited, and
 * return ids, states, scores and reasons only — never a payload, a file or a secret.
 */
import type { AdminConfig } from '../../shared/config/config';
import { readAfter } from '../../shared/adapters/firestore-operator';
import { createCompletionSender } from '../../shared/completion/completion-sender';
import { idSchema } from '../../shared/contract/schemas';
import { appState } from '../../shared/modal/modal-config';
import type { Logger } from '../../shared/observability/log';
import { HttpError } from '../../shared/platform/errors';
import type { AdminStore, Clock, OperatorStore, Publisher } from '../../shared/ports';
import { operatorOf } from './identity';
import { batchProgress, judgeHealth } from './overview';
import { batchJobsQuerySchema, batchListQuerySchema, deadLetterQuerySchema, parse, replaySchema } from './requests';
import { route, type Route } from './router';

export interface OperatorRouteDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  operator: OperatorStore;
  completions: Publisher;
  topicReachable: () => Promise<boolean>;
  clock: Clock;
  logger: Logger;
}

/** The overview's window, and the most completions it reads of it. */
const WINDOW_MINUTES = 15;
const WINDOW_COMPLETIONS = 1000;

/** Attributes Pub/Sub adds to a dead-lettered message, and an earlier replay's mark: not sent back. */
const NOT_REPLAYED = /^CloudPubSubDeadLetter|^replayed_from$|^source$/;

/** A page token as given, checked: undefined when none; a 422 when it is not one this API made. */
function token(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!readAfter(value)) throw new HttpError('invalid_request', 422, 'page_token is not one this API returned');
  return value;
}

export function createOperatorRoutes(prefix: string, deps: OperatorRouteDeps): Route[] {
  const { config, store, operator, clock, logger } = deps;
  const sender = createCompletionSender(deps.completions);

  async function overview() {
    const now = clock();
    const since = new Date(now.getTime() - WINDOW_MINUTES * 60_000);
    const [topic, firestore] = await Promise.all([
      deps.topicReachable().catch(() => false),
      store.ping().then(
        () => true,
        () => false,
      ),
    ]);
    if (!firestore) throw new HttpError('unavailable', 503, 'Firestore cannot be reached');
    const [stats, completions, waiting, replayed, running, stale, activity, appDocs] = await Promise.all([
      store.webhookStatsSince(since),
      operator.recentCompletions(since, WINDOW_COMPLETIONS),
      operator.countDeadLetters({ replayed: false }),
      operator.countDeadLetters({ replayed: true }),
      operator.countExecutions('running'),
      operator.countExecutions('stale'),
      operator.lastActivity(),
      store.listApps(),
    ]);
    const names = [...new Set([...config.expectedApps, ...appDocs.map((a) => String(a.app))])].sort();
    const apps = names.map((app) => {
      const doc = appDocs.find((a) => a.app === app);
      const verified =
        doc?.last_verified_at instanceof Date
          ? {
              at: doc.last_verified_at,
              signedWith: doc.signed_with === 'previous' ? ('previous' as const) : ('current' as const),
            }
          : undefined;
      return {
        app,
        // Everything known of the app, since ever: its last verified webhook.
        state: appState({ since: new Date(0), ...(verified ? { verified } : {}) }),
        last_verified_at: verified?.at ?? null,
      };
    });
    const health = judgeHealth({
      now,
      windowMinutes: WINDOW_MINUTES,
      objectives: config.health,
      reachable: { firestore, topic },
      stats,
      completions,
      deadLettersWaiting: waiting,
      staleExecutions: stale,
      reconcilerAt: activity.reconciler,
      apps,
    });
    const age = (d: Date | null) => (d ? Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000)) : null);
    return {
      generated_at: now.toISOString(),
      health,
      activity: Object.fromEntries(
        Object.entries(activity).map(([fn, at]) => [fn, { at: at?.toISOString() ?? null, age_seconds: age(at) }]),
      ),
      backlog: { running_executions: running, stale_executions: stale },
      dead_letters: { waiting, replayed },
      apps: apps.map((a) => ({
        app: a.app,
        state: a.state.state,
        detail: a.state.state === 'failing' ? a.state.reason : a.state.detail,
        last_verified_at: a.last_verified_at,
      })),
    };
  }

  return [
    route('GET', `${prefix}/overview`, async () => ({ status: 200, body: await overview() })),

    route('GET', `${prefix}/batches`, async (req) => {
      const q = parse(batchListQuerySchema, req.query, 'query');
      const page = await operator.listBatches({ status: q.status, limit: q.limit, after: token(q.page_token) });
      const now = clock();
      const batches = await Promise.all(
        page.items.map(async (listed) => {
          // A running batch's counts are its counter shards' (getBatch): the document's are rolled up at intervals.
          const running = listed.status !== 'completed';
          const live = running ? await store.getBatch(listed.batch_id) : undefined;
          const batch = live
            ? { ...listed, completed_jobs: live.completed_jobs ?? 0, failed_jobs: live.failed_jobs ?? 0 }
            : listed;
          const last = running ? await operator.lastJobUpdate(listed.batch_id) : null;
          return { ...batch, progress: batchProgress(batch, last, now) };
        }),
      );
      return { status: 200, body: { batches, next_page_token: page.next ?? null } };
    }),

    route('GET', `${prefix}/batches/{batch_id}/jobs`, async (req, p) => {
      const batchId = parse(idSchema, p.batch_id, 'batch_id');
      const q = parse(batchJobsQuerySchema, req.query, 'query');
      const page = await operator.listBatchJobs(batchId, {
        status: q.status,
        limit: q.limit,
        after: token(q.page_token),
      });
      return { status: 200, body: { batch_id: batchId, jobs: page.items, next_page_token: page.next ?? null } };
    }),

    route('GET', `${prefix}/dead-letters`, async (req) => {
      const q = parse(deadLetterQuerySchema, req.query, 'query');
      const page = await operator.listDeadLetters({ limit: q.limit, after: token(q.page_token) });
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
