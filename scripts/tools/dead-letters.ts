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
import { createDeadLetterSources } from '../../shared/adapters/dead-letters';
import { createFirestore } from '../../shared/adapters/firestore-documents';
import { createPubSub, createTopicPublisher } from '../../shared/adapters/pubsub';
import { createCompletionSender } from '../../shared/completion/completion-sender';
import type { Clock, DeadLetterSources, Publisher } from '../../shared/ports';
import { useLocalStack } from '../local/local-state';

export interface DeadLetterDeps {
  sources: DeadLetterSources;
  /** The completions topic replays go to. */
  completions: Publisher;
  clock: Clock;
}

/** Both sources' entries; the caller releases the subscription's leases. */
export async function listDeadLetters(deps: Pick<DeadLetterDeps, 'sources'>, limit = 100) {
  return deps.sources.list(limit);
}

export interface ReplayResult {
  replayed: string[];
  skipped: Array<{ id: string; why: string }>;
  dryRun: boolean;
}

/** Publishes the selected entries to the completions topic; without `execute`, only says what it would do. */
export async function replayDeadLetters(
  deps: DeadLetterDeps,
  selection: { ids?: string[]; all?: boolean },
  execute: boolean,
): Promise<ReplayResult> {
  const listing = await deps.sources.list(1000);
  const sender = createCompletionSender(deps.completions);
  const result: ReplayResult = { replayed: [], skipped: [], dryRun: !execute };
  const toAck: string[] = [];
  try {
    const chosen = listing.entries.filter((e) => selection.all || selection.ids?.includes(e.id));
    for (const id of selection.ids ?? [])
      if (!listing.entries.some((e) => e.id === id)) result.skipped.push({ id, why: 'not found' });
    for (const entry of chosen) {
      if (!entry.data || entry.data.length === 0) {
        result.skipped.push({ id: entry.id, why: 'its data was not kept (over 512 KiB); resend it from the source' });
        continue;
      }
      if (execute) {
        await sender.replay(entry.data, entry.attributes, entry.id);
        if (entry.source === 'subscription') toAck.push(entry.id);
        else await deps.sources.markReplayed(entry.id, deps.clock());
      }
      result.replayed.push(entry.id);
    }
    if (execute) await listing.acknowledge(toAck);
  } finally {
    await listing.release();
  }
  return result;
}

async function printList(deps: DeadLetterDeps, limit: number): Promise<void> {
  const { entries, release } = await listDeadLetters(deps, limit);
  await release();
  if (entries.length === 0) process.stdout.write('no dead letters\n');
  for (const e of entries) {
    const a = e.attributes;
    process.stdout.write(
      `${e.id}  ${e.at ?? '-'}  call_id=${a.call_id ?? '-'} job_id=${a.job_id ?? '-'} delivery_id=${a.delivery_id ?? '-'}  ${e.dataBytes} bytes\n    ${e.reason}\n`,
    );
  }
}

async function replay(
  deps: DeadLetterDeps,
  values: { id?: string[]; all?: boolean; execute?: boolean },
): Promise<void> {
  if (!values.all && !values.id?.length) {
    process.stderr.write('replay needs --id ID (repeatable) or --all\n');
    process.exit(2);
  }
  const result = await replayDeadLetters(deps, { ids: values.id, all: values.all ?? false }, values.execute ?? false);
  process.stdout.write(
    `${result.dryRun ? 'would replay' : 'replayed'} ${result.replayed.length}: ${result.replayed.join(', ') || '-'}\n`,
  );
  for (const s of result.skipped) process.stdout.write(`skipped ${s.id}: ${s.why}\n`);
  if (result.dryRun && result.replayed.length)
    process.stdout.write('dry run: nothing was published; add --execute to replay\n');
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
    process.stderr.write(
      'usage: npm run dead-letters -- list|replay [--id ID ...] [--all] [--execute] [--subscription NAME]\n',
    );
    process.exit(2);
  }
  const local = useLocalStack('dead-letters');
  const projectId = process.env.GOOGLE_CLOUD_PROJECT || 'demo-omtx-local';
  const prefix = process.env.PIPELINE_COLLECTION_PREFIX ?? '';
  const subscription = values.subscription ?? process.env.DEAD_LETTER_SUBSCRIPTION ?? local?.deadLetterSubscription;
  const pubsub = createPubSub(projectId);
  const db = createFirestore(projectId, process.env.FIRESTORE_DATABASE || '(default)');
  const deps: DeadLetterDeps = {
    sources: createDeadLetterSources(pubsub, db, {
      projectId,
      subscription,
      collection: process.env.DEAD_LETTERS_COLLECTION || `${prefix}dead_letters`,
    }),
    completions: createTopicPublisher(pubsub, process.env.COMPLETIONS_TOPIC || 'modal-completions', {
      batchWindowMs: 0,
    }),
    clock: () => new Date(),
  };
  if (!subscription)
    process.stderr.write('(no DEAD_LETTER_SUBSCRIPTION / --subscription: reading the dead_letters collection only)\n');
  try {
    if (command === 'list') await printList(deps, Number(values.limit));
    else await replay(deps, values);
  } finally {
    await pubsub.close();
    await db.terminate();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`dead-letters failed: ${String(err)}\n`);
    process.exit(1);
  });
}
