/**
 * Recently published deliveries of one webhook instance, so that a replayed request — the same
 * signed body again, within the timestamp window — is answered 202 with the first message id and
 * not published again (the seed scheme signs the body only, so a captured request can be resent
 * with a fresh timestamp). Keyed by the delivery id and the signature (an HMAC of the body), kept
 * for the tolerance window, at most `max` entries (oldest dropped first). Only a successful publish
 * is remembered: a request answered 503 is retried for real. Pure; per instance, so a replay that
 * reaches another instance is published once more, and the worker's idempotency absorbs it.
 */
export interface RecentDeliveries {
  /** The message id a delivery with this signature was published as, when it is recent. */
  seen(deliveryId: string, signature: string, nowMs: number): string | undefined;
  remember(deliveryId: string, signature: string, messageId: string, nowMs: number): void;
  readonly size: number;
}

export function createRecentDeliveries(ttlMs: number, max = 10_000): RecentDeliveries {
  const entries = new Map<string, { messageId: string; at: number }>();
  const key = (deliveryId: string, signature: string) => `${deliveryId} ${signature}`;
  return {
    seen(deliveryId, signature, nowMs) {
      const k = key(deliveryId, signature);
      const entry = entries.get(k);
      if (!entry) return undefined;
      if (nowMs - entry.at > ttlMs) {
        entries.delete(k);
        return undefined;
      }
      return entry.messageId;
    },
    remember(deliveryId, signature, messageId, nowMs) {
      const k = key(deliveryId, signature);
      entries.delete(k);
      entries.set(k, { messageId, at: nowMs });
      while (entries.size > max) entries.delete(entries.keys().next().value!);
    },
    get size() {
      return entries.size;
    },
  };
}
