import { percentile, windowMetrics } from '../../../../shared/observability/metrics';

describe('percentile', () => {
  it.each([
    [[], 50, null],
    [[7], 99, 7],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10],
    [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99],
  ])('%j p%i → %j', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
});

describe('windowMetrics', () => {
  const since = new Date('2026-01-01T10:00:00Z');
  it('sums webhook counters inside the window and splits completions by status and source', () => {
    const m = windowMetrics(
      since,
      [
        {
          minute: new Date('2026-01-01T09:59:00Z'),
          instance: 'a',
          accepted: 100,
          rejected: { bad_signature: 9 },
          by_scheme: { modal: 100 },
        },
        {
          minute: new Date('2026-01-01T10:00:00Z'),
          instance: 'a',
          accepted: 3,
          rejected: { bad_signature: 1 },
          by_scheme: { modal: 1, standard: 2 },
        },
        {
          minute: new Date('2026-01-01T10:05:00Z'),
          instance: 'b',
          accepted: 2,
          rejected: { stale_timestamp: 2, bad_signature: 1 },
        },
      ],
      [
        { status: 'completed', source: 'webhook', latencyMs: 100 },
        { status: 'completed', source: 'poll', latencyMs: 30_000 },
        { status: 'failed', source: 'webhook', latencyMs: 200 },
        { status: 'cancelled', source: 'unknown', latencyMs: null },
      ],
      2,
    );
    expect(m.webhooks).toEqual({
      accepted: 5,
      accepted_by_scheme: { modal: 1, standard: 2 },
      rejected: { total: 4, by_reason: { bad_signature: 2, stale_timestamp: 2 } },
    });
    expect(m.completions).toEqual({
      total: 4,
      by_status: { completed: 2, failed: 1, cancelled: 1 },
      by_source: { webhook: 2, poll: 1, unknown: 1 },
    });
    expect(m.processing_latency_ms).toEqual({ count: 3, p50: 200, p95: 30_000, p99: 30_000 });
    expect(m.dead_letters).toBe(2);
  });
});
