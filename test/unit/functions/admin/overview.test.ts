/** The overview's verdict from the SLOs' signals, and a batch's progress as the page draws it. */
import { batchProgress, judgeHealth, type HealthInput } from '../../../../functions/admin/overview';
import type { BatchListing } from '../../../../shared/ports';

const now = new Date('2026-12-07T12:00:00Z');
const minute = (n: number) => new Date(now.getTime() - n * 60_000);

function input(overrides: Partial<HealthInput> = {}): HealthInput {
  return {
    now,
    windowMinutes: 15,
    objectives: { availabilityGoal: 0.999, freshnessGoal: 0.99, freshnessSeconds: 60, reconcilerQuietSeconds: 900 },
    reachable: { firestore: true, topic: true },
    stats: [{ minute: minute(1), instance: 'i', accepted: 1000, rejected: { bad_signature: 30 } }],
    completions: Array.from({ length: 100 }, () => ({ status: 'completed', source: 'webhook', latencyMs: 800 })),
    deadLettersWaiting: 0,
    staleExecutions: 0,
    reconcilerAt: minute(2),
    apps: [{ app: 'omtx-boltz2', state: { state: 'configured', detail: 'x' } }],
    ...overrides,
  };
}
const signal = (i: HealthInput, name: string) => judgeHealth(i).signals.find((s) => s.name === name)!;

it('is healthy when every signal is within its objective; a sender’s 401s are not the pipeline’s errors', () => {
  expect(judgeHealth(input()).verdict).toBe('healthy');
  expect(signal(input(), 'webhook_availability').detail).toContain('100.00 % of 1030 requests');
});

it('is degraded when 5xx answers eat the availability goal, as the SLO counts them', () => {
  const i = input({
    stats: [{ minute: minute(1), instance: 'i', accepted: 995, rejected: { overloaded: 3, publish_failed: 2 } }],
  });
  expect(signal(i, 'webhook_availability')).toMatchObject({ state: 'warn' });
  expect(judgeHealth(i).verdict).toBe('degraded');
});

it('is degraded when completions arrive later than the freshness objective allows', () => {
  const late = [
    ...input().completions.slice(0, 97),
    ...Array.from({ length: 3 }, () => ({ status: 'completed', source: 'webhook', latencyMs: 61_000 })),
  ];
  expect(signal(input({ completions: late }), 'completion_freshness')).toMatchObject({
    state: 'warn',
    detail: '97.0 % of 100 completions applied within 60 s (goal 99.0 %)',
  });
});

it('warns of dead letters waiting, stale executions, a quiet reconciler and an app on the old secret', () => {
  const i = input({
    deadLettersWaiting: 2,
    staleExecutions: 1,
    reconcilerAt: minute(20),
    apps: [{ app: 'omtx-chai1', state: { state: 'failing', reason: 'previous secret still in use' } }],
  });
  expect(
    judgeHealth(i)
      .signals.filter((s) => s.state === 'warn')
      .map((s) => s.name),
  ).toEqual(['dead_letters', 'stale_executions', 'reconciler', 'modal_apps']);
});

it('is unhealthy when Firestore or the topic cannot be reached', () => {
  const i = input({ reachable: { firestore: true, topic: false } });
  expect(judgeHealth(i)).toMatchObject({ verdict: 'unhealthy' });
  expect(signal(i, 'backing_services').detail).toBe('cannot reach the completions topic');
});

const batch = (fields: Partial<BatchListing>): BatchListing => ({
  batch_id: 'b',
  status: 'running',
  total_jobs: 1000,
  completed_jobs: 990,
  failed_jobs: 7,
  registered_at: minute(10),
  counts_updated_at: null,
  completed_at: null,
  updated_at: null,
  ...fields,
});

it("gives a running batch's pending jobs, its rate, and how long since its last completion", () => {
  expect(batchProgress(batch({}), minute(4), now)).toEqual({
    total: 1000,
    completed: 990,
    failed: 7,
    pending: 3,
    rate_per_minute: 99.7,
    since_last_completion_seconds: 240,
  });
});

it('measures a finished batch to its completion, and says nothing it cannot know', () => {
  expect(
    batchProgress(batch({ status: 'completed', completed_at: minute(5), completed_jobs: 993 }), null, now),
  ).toMatchObject({
    pending: 0,
    rate_per_minute: 200,
    since_last_completion_seconds: 300,
  });
  expect(batchProgress(batch({ total_jobs: null, registered_at: null }), null, now)).toMatchObject({
    pending: null,
    rate_per_minute: null,
    since_last_completion_seconds: null,
  });
});
