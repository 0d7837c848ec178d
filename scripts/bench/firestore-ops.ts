/**
 * Counts the Firestore operations of the code running inside `countOps(fn)`: documents read,
 * queries (and the documents they returned), aggregation queries and writes — attributed to the
 * unit of work that issued them through AsyncLocalStorage, so that concurrent completions are
 * counted each on its own. It wraps the client's public classes (install), which makes it a bench
 * tool only; a method that an upgrade renames fails `install()` loudly.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Ops {
  /** Documents requested by id (get, getAll, transaction get). */
  docReads: number;
  queries: number;
  /** Documents the queries returned. */
  queryDocs: number;
  aggregations: number;
  /** Document writes committed (each set/update/create/delete in a batch or transaction). */
  writes: number;
  commits: number;
}

export const zeroOps = (): Ops => ({ docReads: 0, queries: 0, queryDocs: 0, aggregations: 0, writes: 0, commits: 0 });

/**
 * Billed reads, as Firestore prices them: one per document read, one per document a query returns
 * (at least one per query), one per aggregation up to 1,000 index entries (the counter shards).
 */
export const billedReads = (o: Ops) => o.docReads + Math.max(o.queries, o.queryDocs) + o.aggregations;

const storage = new AsyncLocalStorage<Ops>();
/** Set while a counted call runs: the client's own calls beneath it (a get through getAll) are not counted again. */
const beneath = new AsyncLocalStorage<boolean>();
let installed = false;

type Method = (...args: any[]) => any;

/**
 * Wraps a public method: `count` sees its arguments and its result, for the unit of work running.
 * `nests`: what it calls is the client's own doing (not so for runTransaction, whose callback is ours).
 */
function wrap(
  proto: Record<string, Method>,
  method: string,
  count: (ops: Ops, args: any[], result: any) => void,
  nests = true,
): void {
  const original = proto[method];
  if (typeof original !== 'function') throw new Error(`@google-cloud/firestore has no public ${method} to count`);
  proto[method] = function (this: unknown, ...args: any[]) {
    const ops = beneath.getStore() ? undefined : storage.getStore();
    if (!ops) return original.apply(this, args);
    const result = nests ? beneath.run(true, () => original.apply(this, args)) : original.apply(this, args);
    // Reads are counted once they answer (a query's documents are known then); writes when made.
    if (result instanceof Promise) return result.then((r: unknown) => (count(ops, args, r), r));
    count(ops, args, result);
    return result;
  };
}

/** What a read returned: a query snapshot's documents, an aggregate, or one document. */
function countRead(ops: Ops, result: any): void {
  if (result && typeof result.size === 'number' && Array.isArray(result.docs)) {
    ops.queries += 1;
    ops.queryDocs += result.size;
  } else if (result && typeof result.data === 'function' && result.query) ops.aggregations += 1;
  else if (Array.isArray(result)) ops.docReads += result.length;
  else ops.docReads += 1;
}

/**
 * Counts through the client's public classes (what the adapters call): a document's or a query's
 * get, a transaction's get and writes, a batch's writes and commit, a transaction's commit. Public
 * API, so an upgrade that renames one fails here, loudly, instead of counting nothing.
 */
export function install(): void {
  if (installed) return;
  installed = true;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const firestore = require('@google-cloud/firestore') as Record<string, any>;
  const { DocumentReference, Query, WriteBatch, Transaction, Firestore } = firestore as Record<
    string,
    { prototype: Record<string, Method> }
  >;
  // Not exported by name: the class of what `count()` returns.
  const AggregateQuery = Object.getPrototypeOf(
    new firestore.Firestore({ projectId: 'bench-ops' }).collection('c').count(),
  ).constructor as { prototype: Record<string, Method> };
  wrap(DocumentReference!.prototype, 'get', (ops) => (ops.docReads += 1));
  wrap(Query!.prototype, 'get', (ops, _a, r) => countRead(ops, r));
  wrap(AggregateQuery.prototype, 'get', (ops) => (ops.aggregations += 1));
  wrap(Firestore!.prototype, 'getAll', (ops, _a, r) => (ops.docReads += (r as unknown[]).length));
  wrap(Transaction!.prototype, 'get', (ops, _a, r) => countRead(ops, r));
  wrap(Transaction!.prototype, 'getAll', (ops, _a, r) => (ops.docReads += (r as unknown[]).length));
  for (const write of ['create', 'set', 'update', 'delete']) {
    // A write through a reference is a commit of its own; in a batch or transaction, one of its writes.
    wrap(DocumentReference!.prototype, write, (ops) => ((ops.writes += 1), (ops.commits += 1)));
    wrap(WriteBatch!.prototype, write, (ops) => (ops.writes += 1));
    wrap(Transaction!.prototype, write, (ops) => (ops.writes += 1));
  }
  wrap(WriteBatch!.prototype, 'commit', (ops) => (ops.commits += 1));
  wrap(Firestore!.prototype, 'runTransaction', (ops) => (ops.commits += 1), false);
}

/** The counter of the unit of work running now, if any. */
export function currentOps(): Ops | undefined {
  return storage.getStore();
}

/** Runs `fn`, adding the Firestore operations it issues to `ops`. */
export function countOps<T>(ops: Ops, fn: () => Promise<T>): Promise<T> {
  install();
  return storage.run(ops, fn);
}
