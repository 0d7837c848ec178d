/**
 * Recently published deliveries of one webhook instance, so that a replayed request — the same
 * signed body again, within the timestamp window — is answered 202 with the first message id and
 * not published again (the seed scheme signs the body only, so a captured request can be resent
 * with a fresh timestamp). Keyed by the delivery id and the signature (an HMAC of the body), kept
 * for the tolerance window, at most `max` entries (oldest dropped first).
 *
 * A copy that arrives while the first is still being published waits for that publish and shares
 * its message id: five concurrent copies make one message, not five. Only a successful publish is
 * remembered: a request answered 503 (and the copies that waited on it) is retried for real. Per
 * instance, so a replay that reaches another instance is published once more, and the worker's
 * idempotency absorbs it.
 */
export interface Published {
  messageId: string;
  /** True when this request was answered with an earlier (or concurrent) copy's message id. */
  replay: boolean;
}

export interface RecentDeliveries {
  /** Runs `publish` unless this delivery with this signature is recent or in flight; then shares its message id. */
  publishOnce(
    deliveryId: string,
    signature: string,
    nowMs: () => number,
    publish: () => Promise<string>,
  ): Promise<Published>;
  readonly size: number;
}

export function createRecentDeliveries(ttlMs: number, max = 10_000): RecentDeliveries {
  const entries = new Map<string, { messageId: string; at: number }>();
  const inFlight = new Map<string, Promise<string>>();
  const key = (deliveryId: string, signature: string) => `${deliveryId} ${signature}`;

  function recent(k: string, nowMs: number): string | undefined {
    const entry = entries.get(k);
    if (!entry) return undefined;
    if (nowMs - entry.at <= ttlMs) return entry.messageId;
    entries.delete(k);
    return undefined;
  }

  function remember(k: string, messageId: string, nowMs: number): void {
    entries.delete(k);
    entries.set(k, { messageId, at: nowMs });
    while (entries.size > max) entries.delete(entries.keys().next().value!);
  }

  return {
    async publishOnce(deliveryId, signature, nowMs, publish) {
      const k = key(deliveryId, signature);
      const earlier = recent(k, nowMs());
      if (earlier) return { messageId: earlier, replay: true };
      const pending = inFlight.get(k);
      if (pending) return { messageId: await pending, replay: true };
      const publishing = publish();
      inFlight.set(k, publishing);
      try {
        const messageId = await publishing;
        remember(k, messageId, nowMs());
        return { messageId, replay: false };
      } finally {
        inFlight.delete(k);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
