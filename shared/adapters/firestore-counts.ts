/**
 * A batch's counts from its counter shards: one aggregation once every shard holds both counters,
 * counted exactly (and shards from before given the counter they lack) until then. Used by the
 * batch store (firestore-batches.ts); the shards are written by the job store (firestore.ts).
 */
import {
  AggregateField,
  FieldValue,
  type CollectionReference,
  type DocumentSnapshot,
  type Firestore,
  type Transaction,
} from '@google-cloud/firestore';
import { holdsBothCounters, sumShards } from '../batch/batch-counters';
import type { Collections } from '../config/config';

export function counters(db: Firestore, c: Collections, batchId: string) {
  return db.collection(c.batches).doc(batchId).collection('counters');
}

/** Every counter shard holding both counters: the one aggregation that is exact once they all do. */
const bothCounters = (shards: CollectionReference) =>
  shards.aggregate({
    shards: AggregateField.count(),
    completed: AggregateField.sum('completed'),
    failed: AggregateField.sum('failed'),
  });

export interface ShardSums {
  shards: number;
  completed_jobs: number;
  failed_jobs: number;
}

/**
 * A batch's counts from one aggregation over its shards. An aggregation over several fields
 * counts only the documents holding all of them (the emulator and Firestore agree), so this is
 * exact when every shard holds both `completed` and `failed`, as every increment writes them
 * (shardIncrements); `exactCounts` makes sure of it for shards from before.
 */
async function fastCounts(db: Firestore, c: Collections, batchId: string, tx?: Transaction): Promise<ShardSums> {
  const query = bothCounters(counters(db, c, batchId));
  const sums = (tx ? await tx.get(query) : await query.get()).data();
  return { shards: sums.shards, completed_jobs: sums.completed ?? 0, failed_jobs: sums.failed ?? 0 };
}

/** The number of a batch's shards, whatever they hold. */
const everyShard = (shards: CollectionReference) => shards.aggregate({ shards: AggregateField.count() });

/**
 * A batch's counts whatever its shards hold: the one aggregation, and beside it the number of
 * shards. When they differ — again, on one snapshot, since a completion may create a shard between
 * two reads — some shard lacks a counter (written before increments wrote both): the shards are
 * read one by one and summed, and — outside a transaction — given the missing counter (an
 * increment by 0), so that `fastCounts` is exact for this batch from then on. `legacy`: how many
 * shards lacked one.
 */
export async function exactCounts(
  db: Firestore,
  c: Collections,
  batchId: string,
  tx?: Transaction,
): Promise<ShardSums & { legacy: number }> {
  const shards = counters(db, c, batchId);
  const both = async (t?: Transaction) => {
    const [fast, all] = await Promise.all([
      fastCounts(db, c, batchId, t),
      (t ? t.get(everyShard(shards)) : everyShard(shards).get()).then((snap) => snap.data().shards),
    ]);
    return { fast, all };
  };
  let { fast, all } = await both(tx);
  if (fast.shards !== all && !tx) ({ fast, all } = await db.runTransaction((t) => both(t), { readOnly: true }));
  if (fast.shards === all) return { ...fast, legacy: 0 };
  const snap = tx ? await tx.get(shards) : await shards.get();
  const legacy = snap.docs.filter((d) => !holdsBothCounters(d.data()));
  if (!tx && legacy.length) {
    const repair = db.batch();
    for (const d of legacy)
      repair.set(d.ref, { completed: FieldValue.increment(0), failed: FieldValue.increment(0) }, { merge: true });
    await repair.commit();
  }
  return { shards: snap.size, ...sumShards(snap.docs.map((d) => d.data())), legacy: legacy.length };
}

/**
 * The counts of a batch, read with `fastCounts` once every one of its `counterShards` shards exists
 * holding both counters: increments never remove a counter, so the one aggregation stays exact from
 * then on — even while an older revision still runs beside this one during a deploy, since no shard
 * is left for it to create. A batch of at least `counterShards` jobs gets its missing shards created
 * (zeros, merged: an increment racing it is kept) the first time it is counted exactly; a smaller
 * one is counted exactly every time (two aggregations).
 */
const VERIFIED_MAX = 10_000;

export function countReader(db: Firestore, c: Collections, counterShards: number) {
  const verified = new Set<string>();
  const remember = (batchId: string) => {
    verified.add(batchId);
    if (verified.size > VERIFIED_MAX) verified.delete(verified.values().next().value!);
  };
  /** `batchDoc`: the batch document's read, under way meanwhile (its failure is its own caller's). */
  return async (batchId: string, batchDoc: Promise<DocumentSnapshot>): Promise<ShardSums> => {
    if (verified.has(batchId)) return fastCounts(db, c, batchId);
    const counts = await exactCounts(db, c, batchId);
    if (counts.legacy > 0) return counts;
    if (counts.shards < counterShards) {
      const total: unknown = await batchDoc.then(
        (d) => d.get('total_jobs') as unknown,
        () => undefined,
      );
      if (typeof total !== 'number' || total < counterShards) return counts;
      const shards = counters(db, c, batchId);
      const zeros = { completed: FieldValue.increment(0), failed: FieldValue.increment(0) };
      const create = db.batch();
      for (let n = 0; n < counterShards; n++) create.set(shards.doc(String(n)), zeros, { merge: true });
      await create.commit();
    }
    remember(batchId);
    return counts;
  };
}
