/**
 * `GET …/overview`, the operator page's first view: the pipeline's health judged by the SLOs' own
 * signals over the last 15 minutes (overview.ts), each function's last activity, the backlog, the
 * dead letters and the Modal apps' states. Bounded: counts, and at most 1000 completions.
 */
import type { AdminConfig } from '../../shared/config/config';
import { appState } from '../../shared/modal/modal-config';
import { HttpError } from '../../shared/platform/errors';
import type { AdminStore, Clock, OperatorStore } from '../../shared/ports';
import { judgeHealth } from './overview';
import { route, type Route } from './router';

export interface OverviewDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  operator: OperatorStore;
  topicReachable: () => Promise<boolean>;
  clock: Clock;
}

/** The overview's window, and the most completions it reads of it. */
const WINDOW_MINUTES = 15;
const WINDOW_COMPLETIONS = 1000;

/** Each app expected or seen, with its state from its last verified webhook. */
function appsOf(expected: readonly string[], docs: ReadonlyArray<Record<string, unknown>>) {
  const names = [...new Set([...expected, ...docs.map((a) => String(a.app))])].sort();
  return names.map((app) => {
    const doc = docs.find((a) => a.app === app);
    const verified =
      doc?.last_verified_at instanceof Date
        ? {
            at: doc.last_verified_at,
            signedWith: doc.signed_with === 'previous' ? ('previous' as const) : ('current' as const),
          }
        : undefined;
    // Everything known of the app, since ever: its last verified webhook.
    return {
      app,
      state: appState({ since: new Date(0), ...(verified ? { verified } : {}) }),
      last_verified_at: verified?.at ?? null,
    };
  });
}

export function createOverviewRoute(prefix: string, deps: OverviewDeps): Route {
  const { config, store, operator, clock } = deps;
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
    const apps = appsOf(config.expectedApps, appDocs);
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

  return route('GET', `${prefix}/overview`, async () => ({ status: 200, body: await overview() }));
}
