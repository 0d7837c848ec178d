/**
 * DeadLetterSources over the dead-letter subscription (Pub/Sub, pulled without acknowledging) and
 * the dead_letters collection (Firestore).
 */
import type { Firestore, Timestamp } from '@google-cloud/firestore';
import { v1, type PubSub } from '@google-cloud/pubsub';
import type { DeadLetterEntry, DeadLetterSources } from '../ports';

export interface DeadLetterSourcesOptions {
  projectId: string;
  /** The dead-letter topic's subscription; without it only the collection is read. */
  subscription?: string;
  collection: string;
}

function subscriptionPath(projectId: string, name: string): string {
  return name.startsWith('projects/') ? name : `projects/${projectId}/subscriptions/${name}`;
}

export function createDeadLetterSources(
  pubsub: PubSub,
  db: Firestore,
  options: DeadLetterSourcesOptions,
): DeadLetterSources {
  return {
    async list(limit) {
      const entries: DeadLetterEntry[] = [];
      const subscriber = options.subscription
        ? new v1.SubscriberClient(pubsub.options as ConstructorParameters<typeof v1.SubscriberClient>[0])
        : undefined;
      const path = options.subscription ? subscriptionPath(options.projectId, options.subscription) : '';
      const ackIdOf = new Map<string, string>();
      if (subscriber) {
        const [response] = await subscriber.pull({ subscription: path, maxMessages: limit, returnImmediately: true });
        for (const received of response.receivedMessages ?? []) {
          const message = received.message!;
          const data = Buffer.from(message.data ?? '');
          const id = `sub:${message.messageId}`;
          ackIdOf.set(id, received.ackId!);
          entries.push({
            id,
            source: 'subscription',
            reason: `failed ${received.deliveryAttempt ?? 'every'} delivery attempts`,
            attributes: message.attributes ?? {},
            data,
            dataBytes: data.length,
            at: message.publishTime?.seconds
              ? new Date(Number(message.publishTime.seconds) * 1000).toISOString()
              : null,
          });
        }
      }
      const snap = await db.collection(options.collection).where('replayed', '==', false).limit(limit).get();
      for (const doc of snap.docs) {
        const d = doc.data();
        entries.push({
          id: `doc:${doc.id}`,
          source: 'collection',
          reason: `${String(d.code)}: ${String(d.reason)}`,
          attributes: (d.attributes ?? {}) as Record<string, string>,
          data: d.data_base64 ? Buffer.from(String(d.data_base64), 'base64') : undefined,
          dataBytes: Number(d.data_bytes ?? 0),
          at: (d.recorded_at as Timestamp | undefined)?.toDate?.().toISOString() ?? null,
        });
      }
      const acked = new Set<string>();
      return {
        entries,
        async acknowledge(ids) {
          const ackIds = ids.map((id) => ackIdOf.get(id)).filter((a): a is string => a !== undefined);
          if (subscriber && ackIds.length) await subscriber.acknowledge({ subscription: path, ackIds });
          for (const id of ids) acked.add(id);
        },
        async release() {
          const leased = [...ackIdOf.entries()].filter(([id]) => !acked.has(id)).map(([, ackId]) => ackId);
          if (subscriber && leased.length)
            await subscriber.modifyAckDeadline({ subscription: path, ackIds: leased, ackDeadlineSeconds: 0 });
          await subscriber?.close();
        },
      };
    },
    async markReplayed(id, at) {
      await db
        .collection(options.collection)
        .doc(id.replace(/^doc:/, ''))
        .set({ replayed: true, replayed_at: at }, { merge: true });
    },
  };
}
