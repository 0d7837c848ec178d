/**
 * `npm run dead-letters -- list|replay`: what sits in the dead-letter subscription (completions that
 * failed every delivery attempt) and in the dead_letters collection (messages the worker could
 * never process), with reasons; and replay of selected ones — or all — to the completions topic
 * after a fix. Replay is a dry run unless --execute is given.
 *
 *   npm run dead-letters -- list [--subscription NAME] [--limit N]
 *   npm run dead-letters -- replay [--id ID ...] [--all] [--execute] [--subscription NAME]
 *
 * Locally it finds the running `npm start` (emulators, topic, dead-letter subscription) by itself.
 * Otherwise: GOOGLE_CLOUD_PROJECT, COMPLETIONS_TOPIC, DEAD_LETTER_SUBSCRIPTION (the subscription on
 * the dead-letter topic; Terraform's output `dead_letter_subscription`), PIPELINE_COLLECTION_PREFIX
 * / DEAD_LETTERS_COLLECTION, FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST.
 */
import { parseArgs } from 'node:util';
import type { Firestore } from '@google-cloud/firestore';
import { PubSub, v1 } from '@google-cloud/pubsub';
import { useLocalStack } from './local-state';

export interface DeadLetterEntry {
  /** `sub:<message id>` for the subscription, `doc:<document id>` for the collection. */
  id: string;
  source: 'subscription' | 'collection';
  reason: string;
  attributes: Record<string, string>;
  data?: Buffer;
  dataBytes: number;
  at: string | null;
  ackId?: string;
}

export interface DeadLetterDeps {
  pubsub: PubSub;
  db: Firestore;
  projectId: string;
  completionsTopic: string;
  deadLetterSubscription?: string;
  deadLettersCollection: string;
}

function subscriptionPath(projectId: string, name: string): string {
  return name.startsWith('projects/') ? name : `projects/${projectId}/subscriptions/${name}`;
}

/** Reads both sources; subscription messages are pulled and immediately made available again. */
export async function listDeadLetters(deps: DeadLetterDeps, limit = 100): Promise<{ entries: DeadLetterEntry[]; release(): Promise<void>; ack(ackIds: string[]): Promise<void> }> {
  const entries: DeadLetterEntry[] = [];
  const subscriber = deps.deadLetterSubscription ? new v1.SubscriberClient(deps.pubsub.options as ConstructorParameters<typeof v1.SubscriberClient>[0]) : undefined;
  const path = deps.deadLetterSubscription ? subscriptionPath(deps.projectId, deps.deadLetterSubscription) : '';
  const ackIds: string[] = [];
  if (subscriber) {
    const [response] = await subscriber.pull({ subscription: path, maxMessages: limit, returnImmediately: true });
    for (const received of response.receivedMessages ?? []) {
      const message = received.message!;
      const attributes = (message.attributes ?? {}) as Record<string, string>;
      const data = Buffer.from(message.data ?? '');
      ackIds.push(received.ackId!);
      entries.push({
        id: `sub:${message.messageId}`,
        source: 'subscription',
        reason: `failed ${received.deliveryAttempt ?? 'every'} delivery attempts`,
        attributes,
        data,
        dataBytes: data.length,
        at: message.publishTime?.seconds ? new Date(Number(message.publishTime.seconds) * 1000).toISOString() : null,
        ackId: received.ackId!,
      });
    }
  }
  const snap = await deps.db.collection(deps.deadLettersCollection).where('replayed', '==', false).limit(limit).get();
  for (const doc of snap.docs) {
    const d = doc.data();
    entries.push({
      id: `doc:${doc.id}`,
      source: 'collection',
      reason: `${String(d.code)}: ${String(d.reason)}`,
      attributes: (d.attributes ?? {}) as Record<string, string>,
      data: d.data_base64 ? Buffer.from(String(d.data_base64), 'base64') : undefined,
      dataBytes: Number(d.data_bytes ?? 0),
      at: d.recorded_at?.toDate?.().toISOString() ?? null,
    });
  }
  const acked = new Set<string>();
  /** Makes the pulled messages that were not acknowledged available again at once. */
  const release = async () => {
    const leased = ackIds.filter((id) => !acked.has(id));
    if (subscriber && leased.length) await subscriber.modifyAckDeadline({ subscription: path, ackIds: leased, ackDeadlineSeconds: 0 });
    await subscriber?.close();
  };
  const ack = async (ids: string[]) => {
    if (subscriber && ids.length) await subscriber.acknowledge({ subscription: path, ackIds: ids });
    for (const id of ids) acked.add(id);
  };
  return { entries, release, ack };
}

export interface ReplayResult {
  replayed: string[];
  skipped: Array<{ id: string; why: string }>;
  dryRun: boolean;
}

/** Publishes the selected entries to the completions topic; without `execute`, only says what it would do. */
export async function replayDeadLetters(deps: DeadLetterDeps, selection: { ids?: string[]; all?: boolean }, execute: boolean): Promise<ReplayResult> {
  const listing = await listDeadLetters(deps, 1000);
  const result: ReplayResult = { replayed: [], skipped: [], dryRun: !execute };
  const toAck: string[] = [];
  try {
    const chosen = listing.entries.filter((e) => selection.all || selection.ids?.includes(e.id));
    for (const id of selection.ids ?? []) if (!listing.entries.some((e) => e.id === id)) result.skipped.push({ id, why: 'not found' });
    const topic = deps.pubsub.topic(deps.completionsTopic);
    for (const entry of chosen) {
      if (!entry.data || entry.data.length === 0) {
        result.skipped.push({ id: entry.id, why: 'its data was not kept (over 512 KiB); resend it from the source' });
        continue;
      }
      if (execute) {
        await topic.publishMessage({ data: entry.data, attributes: { ...entry.attributes, source: 'replay', replayed_from: entry.id } });
        if (entry.source === 'subscription') toAck.push(entry.ackId!);
        else await deps.db.collection(deps.deadLettersCollection).doc(entry.id.slice(4)).set({ replayed: true, replayed_at: new Date() }, { merge: true });
      }
      result.replayed.push(entry.id);
    }
    if (execute) await listing.ack(toAck);
  } finally {
    await listing.release();
  }
  return result;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      id: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      execute: { type: 'boolean', default: false },
      subscription: { type: 'string' },
      limit: { type: 'string', default: '100' },
    },
  });
  const command = positionals[0];
  if (command !== 'list' && command !== 'replay') {
    process.stderr.write('usage: npm run dead-letters -- list|replay [--id ID ...] [--all] [--execute] [--subscription NAME]\n');
    process.exit(2);
  }
  const local = useLocalStack('dead-letters');
  const { Firestore } = await import('@google-cloud/firestore');
  const projectId = process.env.GOOGLE_CLOUD_PROJECT || 'demo-omtx-local';
  const prefix = process.env.PIPELINE_COLLECTION_PREFIX ?? '';
  const deps: DeadLetterDeps = {
    pubsub: new PubSub({ projectId }),
    db: new Firestore({ projectId }),
    projectId,
    completionsTopic: process.env.COMPLETIONS_TOPIC || 'modal-completions',
    deadLetterSubscription: values.subscription ?? process.env.DEAD_LETTER_SUBSCRIPTION ?? local?.deadLetterSubscription,
    deadLettersCollection: process.env.DEAD_LETTERS_COLLECTION || `${prefix}dead_letters`,
  };
  if (!deps.deadLetterSubscription) process.stderr.write('(no DEAD_LETTER_SUBSCRIPTION / --subscription: reading the dead_letters collection only)\n');
  try {
    if (command === 'list') {
      const { entries, release } = await listDeadLetters(deps, Number(values.limit));
      await release();
      if (entries.length === 0) process.stdout.write('no dead letters\n');
      for (const e of entries) {
        const a = e.attributes;
        process.stdout.write(`${e.id}  ${e.at ?? '-'}  call_id=${a.call_id ?? '-'} job_id=${a.job_id ?? '-'} delivery_id=${a.delivery_id ?? '-'}  ${e.dataBytes} bytes\n    ${e.reason}\n`);
      }
    } else {
      if (!values.all && !values.id?.length) {
        process.stderr.write('replay needs --id ID (repeatable) or --all\n');
        process.exit(2);
      }
      const result = await replayDeadLetters(deps, { ids: values.id, all: values.all }, values.execute);
      process.stdout.write(`${result.dryRun ? 'would replay' : 'replayed'} ${result.replayed.length}: ${result.replayed.join(', ') || '-'}\n`);
      for (const s of result.skipped) process.stdout.write(`skipped ${s.id}: ${s.why}\n`);
      if (result.dryRun && result.replayed.length) process.stdout.write('dry run: nothing was published; add --execute to replay\n');
    }
  } finally {
    await deps.pubsub.close();
    await deps.db.terminate();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`dead-letters failed: ${String(err)}\n`);
    process.exit(1);
  });
}
