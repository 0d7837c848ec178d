/**
 * What the operator page's overview and batch list say, computed from what the admin read: the
 * pipeline's health judged by the SLOs' own signals where the admin can see them, and a batch's
 * progress. Pure: reads in, verdicts and figures out.
 */
import type { HealthObjectives } from '../../shared/config/config';
import type { AppState } from '../../shared/modal/modal-config';
import type { BatchListing, CompletionRecord, WebhookStatsDoc } from '../../shared/ports';

/** Refusals the webhook answers with a 5xx: what the availability SLO counts against itself. */
export const SERVER_SIDE_REFUSALS: ReadonlySet<string> = new Set([
  'overloaded',
  'unavailable',
  'publish_failed',
  'claim_check_failed',
  'not_configured',
  'internal_error',
  'body_guard_missing',
]);

export type SignalState = 'ok' | 'warn' | 'fail';
export interface Signal {
  name: string;
  state: SignalState;
  detail: string;
}

export interface HealthInput {
  now: Date;
  windowMinutes: number;
  objectives: HealthObjectives;
  reachable: { firestore: boolean; topic: boolean };
  stats: readonly WebhookStatsDoc[];
  completions: readonly CompletionRecord[];
  deadLettersWaiting: number;
  staleExecutions: number;
  reconcilerAt: Date | null;
  apps: ReadonlyArray<{ app: string; state: AppState }>;
}

const percent = (share: number) => `${(share * 100).toFixed(share >= 0.999 ? 2 : 1)} %`;

function availability(input: HealthInput): Signal {
  let requests = 0;
  let serverErrors = 0;
  for (const s of input.stats) {
    requests += s.accepted;
    for (const [reason, n] of Object.entries(s.rejected)) {
      requests += n;
      if (SERVER_SIDE_REFUSALS.has(reason)) serverErrors += n;
    }
  }
  const name = 'webhook_availability';
  if (requests === 0) return { name, state: 'ok', detail: `no webhook requests in ${input.windowMinutes} min` };
  const share = 1 - serverErrors / requests;
  return {
    name,
    state: share < input.objectives.availabilityGoal ? 'warn' : 'ok',
    detail: `${percent(share)} of ${requests} requests answered without a 5xx in ${input.windowMinutes} min (goal ${percent(input.objectives.availabilityGoal)})`,
  };
}

function freshness(input: HealthInput): Signal {
  const timed = input.completions.filter((c) => c.latencyMs !== null);
  const name = 'completion_freshness';
  if (timed.length === 0) return { name, state: 'ok', detail: `no completions in ${input.windowMinutes} min` };
  const fresh = timed.filter((c) => c.latencyMs! <= input.objectives.freshnessSeconds * 1000).length;
  const share = fresh / timed.length;
  return {
    name,
    state: share < input.objectives.freshnessGoal ? 'warn' : 'ok',
    detail: `${percent(share)} of ${timed.length} completions applied within ${input.objectives.freshnessSeconds} s (goal ${percent(input.objectives.freshnessGoal)})`,
  };
}

function reconciler(input: HealthInput): Signal {
  const name = 'reconciler';
  if (!input.reconcilerAt) return { name, state: 'warn', detail: 'no reconciler pass recorded yet' };
  const age = Math.round((input.now.getTime() - input.reconcilerAt.getTime()) / 1000);
  return age > input.objectives.reconcilerQuietSeconds
    ? {
        name,
        state: 'warn',
        detail: `last pass ${age} s ago (expected within ${input.objectives.reconcilerQuietSeconds} s)`,
      }
    : { name, state: 'ok', detail: `last pass ${age} s ago` };
}

function apps(input: HealthInput): Signal {
  const failing = input.apps.filter((a) => a.state.state === 'failing').map((a) => a.app);
  const waiting = input.apps.filter((a) => a.state.state === 'waiting').map((a) => a.app);
  const name = 'modal_apps';
  if (input.apps.length === 0) return { name, state: 'ok', detail: 'no Modal app configured or seen' };
  if (failing.length) return { name, state: 'warn', detail: `failing: ${failing.join(', ')}` };
  if (waiting.length)
    return { name, state: 'warn', detail: `waiting for a first verified webhook: ${waiting.join(', ')}` };
  return { name, state: 'ok', detail: `${input.apps.length} configured` };
}

/** Every signal, and the verdict: unhealthy when one fails, degraded when one warns. */
export function judgeHealth(input: HealthInput): { verdict: 'healthy' | 'degraded' | 'unhealthy'; signals: Signal[] } {
  const unreachable = [
    ...(input.reachable.firestore ? [] : ['Firestore']),
    ...(input.reachable.topic ? [] : ['the completions topic']),
  ];
  const signals: Signal[] = [
    unreachable.length
      ? { name: 'backing_services', state: 'fail', detail: `cannot reach ${unreachable.join(' or ')}` }
      : { name: 'backing_services', state: 'ok', detail: 'Firestore and the completions topic reachable' },
    availability(input),
    freshness(input),
    input.deadLettersWaiting > 0
      ? { name: 'dead_letters', state: 'warn', detail: `${input.deadLettersWaiting} waiting for a replay` }
      : { name: 'dead_letters', state: 'ok', detail: 'none waiting' },
    input.staleExecutions > 0
      ? {
          name: 'stale_executions',
          state: 'warn',
          detail: `${input.staleExecutions} executions never sent their webhook`,
        }
      : { name: 'stale_executions', state: 'ok', detail: 'none' },
    reconciler(input),
    apps(input),
  ];
  const verdict = signals.some((s) => s.state === 'fail')
    ? 'unhealthy'
    : signals.some((s) => s.state === 'warn')
      ? 'degraded'
      : 'healthy';
  return { verdict, signals };
}

export interface BatchProgress {
  total: number | null;
  completed: number;
  failed: number;
  /** Jobs not yet terminal; null while the total is unknown. */
  pending: number | null;
  /** Terminal jobs per minute since the batch was registered; null without a registration time. */
  rate_per_minute: number | null;
  /** Seconds since a job of the batch last changed (its last completion). */
  since_last_completion_seconds: number | null;
}

/** A batch's progress as the page draws it. `lastCompletion`: when one of its jobs last changed. */
export function batchProgress(batch: BatchListing, lastCompletion: Date | null, now: Date): BatchProgress {
  const done = batch.completed_jobs + batch.failed_jobs;
  const last = batch.completed_at ?? lastCompletion;
  const end = batch.completed_at ?? now;
  const minutes = batch.registered_at ? (end.getTime() - batch.registered_at.getTime()) / 60_000 : 0;
  return {
    total: batch.total_jobs,
    completed: batch.completed_jobs,
    failed: batch.failed_jobs,
    pending: batch.total_jobs === null ? null : Math.max(0, batch.total_jobs - done),
    rate_per_minute: minutes > 1 / 60 ? Math.round((done / minutes) * 10) / 10 : null,
    since_last_completion_seconds: last ? Math.max(0, Math.round((now.getTime() - last.getTime()) / 1000)) : null,
  };
}
