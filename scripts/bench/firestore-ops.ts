/**
 * Counts the Firestore operations of the code running inside `countOps(fn)`: documents read,
 * queries (and the documents they returned), aggregation queries and writes — attributed to the
 * unit of work that issued them through AsyncLocalStorage, so that concurrent completions are
 * counted each on its own. It wraps the client's internal read and commit paths (the ones both
 * plain calls and transactions go through, retries included), which makes it a bench tool only:
 * it knows @google-cloud/firestore 7's internals, and `install()` fails loudly if they moved.
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
let installed = false;

type Proto = Record<string, (...args: unknown[]) => Promise<unknown>>;

function wrap(proto: Proto, method: string, after: (self: any, result: any, ops: Ops) => void): void {
  const original = proto[method];
  if (typeof original !== 'function')
    throw new Error(`@google-cloud/firestore has no ${method} where the bench counter expects it`);
  proto[method] = async function (this: unknown, ...args: unknown[]) {
    const result = await original.apply(this, args);
    const ops = storage.getStore();
    if (ops) after(this, result, ops);
    return result;
  };
}

export function install(): void {
  if (installed) return;
  installed = true;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { DocumentReader } = require('@google-cloud/firestore/build/src/document-reader');
  const { Query } = require('@google-cloud/firestore/build/src/reference/query');
  const { AggregateQuery } = require('@google-cloud/firestore/build/src/reference/aggregate-query');
  const { WriteBatch } = require('@google-cloud/firestore/build/src/write-batch');
  wrap(DocumentReader.prototype, '_get', (self, _r, ops) => {
    ops.docReads += self.allDocuments.length;
  });
  wrap(Query.prototype, '_get', (_s, r, ops) => {
    ops.queries += 1;
    ops.queryDocs += r.result.size;
  });
  wrap(AggregateQuery.prototype, '_get', (_s, _r, ops) => {
    ops.aggregations += 1;
  });
  // Counted before the commit resolves: the batch's operations are cleared once it is sent.
  const commit = WriteBatch.prototype._commit as (...args: unknown[]) => Promise<unknown>;
  WriteBatch.prototype._commit = function (this: { _opCount: number }, ...args: unknown[]) {
    const ops = storage.getStore();
    if (ops) {
      ops.commits += 1;
      ops.writes += this._opCount;
    }
    return commit.apply(this, args);
  };
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
