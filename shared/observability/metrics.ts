/**
 * The metrics endpoint's arithmetic. Pure: webhook counters and completed jobs in, per-window
 * figures out (counts by reason, status and source; latency percentiles).
 */
import type { CompletionRecord, WebhookStatsDoc } from '../ports';

export interface WindowMetrics {
  since: string;
  webhooks: {
    accepted: number;
    accepted_by_scheme: Record<string, number>;
    rejected: { total: number; by_reason: Record<string, number> };
  };
  completions: { total: number; by_status: Record<string, number>; by_source: Record<string, number> };
  dead_letters: number;
  processing_latency_ms: { count: number; p50: number | null; p95: number | null; p99: number | null };
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function add(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

export function windowMetrics(
  since: Date,
  stats: readonly WebhookStatsDoc[],
  completions: readonly CompletionRecord[],
  deadLetters: number,
): WindowMetrics {
  const byReason: Record<string, number> = {};
  const byScheme: Record<string, number> = {};
  let accepted = 0;
  for (const s of stats) {
    if (s.minute.getTime() < since.getTime()) continue;
    accepted += s.accepted;
    for (const [scheme, n] of Object.entries(s.by_scheme ?? {})) add(byScheme, scheme, n);
    for (const [reason, n] of Object.entries(s.rejected)) add(byReason, reason, n);
  }
  const byStatus: Record<string, number> = {};
  const bySource: Record<string, number> = {};
  const latencies: number[] = [];
  let total = 0;
  for (const c of completions) {
    if (c.at && c.at.getTime() < since.getTime()) continue;
    total++;
    add(byStatus, c.status);
    add(bySource, c.source);
    if (c.latencyMs !== null) latencies.push(c.latencyMs);
  }
  latencies.sort((a, b) => a - b);
  return {
    since: since.toISOString(),
    webhooks: {
      accepted,
      accepted_by_scheme: byScheme,
      rejected: { total: Object.values(byReason).reduce((a, b) => a + b, 0), by_reason: byReason },
    },
    completions: { total, by_status: byStatus, by_source: bySource },
    dead_letters: deadLetters,
    processing_latency_ms: {
      count: latencies.length,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
    },
  };
}
