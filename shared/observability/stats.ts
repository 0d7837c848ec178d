/**
 * Webhook counters for the metrics endpoint. The webhook has no database access (least privilege),
 * so each instance counts accepted and rejected requests per minute in memory and sends the counts
 * to the worker on the completions topic (kind `webhook_stats`), which stores them. One message per
 * instance per flush interval, however many requests: no hot document, no cost per request.
 */
import { randomBytes } from 'node:crypto';
import type { WebhookStats } from '../contract/schemas';

export interface StatsBuffer {
  /** One request's outcome; an accepted one also counts under its signature scheme. */
  count(outcome: string, at: Date, scheme?: string): void;
  /** The counts to send when the flush interval has passed (and resets them); else undefined. */
  takeIfDue(now: Date): WebhookStats | undefined;
}

export function createStatsBuffer(flushEveryMs: number, instance = randomBytes(6).toString('hex')): StatsBuffer {
  let minutes: WebhookStats['minutes'] = {};
  let seq = 0;
  let lastFlush = 0;
  let pending = false;
  return {
    count(outcome, at, scheme) {
      const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000).toISOString();
      const bucket = (minutes[minute] ??= { accepted: 0, rejected: {} });
      if (outcome === 'accepted') {
        bucket.accepted++;
        if (scheme) {
          bucket.by_scheme ??= {};
          bucket.by_scheme[scheme] = (bucket.by_scheme[scheme] ?? 0) + 1;
        }
      } else bucket.rejected[outcome] = (bucket.rejected[outcome] ?? 0) + 1;
      pending = true;
    },
    takeIfDue(now) {
      if (!pending || now.getTime() - lastFlush < flushEveryMs) return undefined;
      const taken: WebhookStats = { instance, seq: seq++, minutes };
      minutes = {};
      pending = false;
      lastFlush = now.getTime();
      return taken;
    },
  };
}
