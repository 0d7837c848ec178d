/**
 * The operator page's batch routes: batches with their progress (overview.ts `batchProgress`), the
 * last changed first, and one batch's jobs — ids, status, scores and error message only.
 */
import { idSchema } from '../../shared/contract/schemas';
import type { AdminStore, Clock, OperatorStore } from '../../shared/ports';
import { batchProgress } from './overview';
import { batchJobsQuerySchema, batchListQuerySchema, listingToken, parse } from './requests';
import { route, type Route } from './router';

export interface BatchRouteDeps {
  store: AdminStore;
  operator: OperatorStore;
  clock: Clock;
}

export function createBatchRoutes(prefix: string, deps: BatchRouteDeps): Route[] {
  const { store, operator, clock } = deps;
  return [
    route('GET', `${prefix}/batches`, async (req) => {
      const q = parse(batchListQuerySchema, req.query, 'query');
      const page = await operator.listBatches({ status: q.status, limit: q.limit, after: listingToken(q.page_token) });
      const now = clock();
      const batches = await Promise.all(
        page.items.map(async (listed) => {
          // A running batch's counts are its counter shards' (getBatch): the document's are rolled up at intervals.
          if (listed.status === 'completed') return { ...listed, progress: batchProgress(listed, null, now) };
          const [live, last] = await Promise.all([
            store.getBatch(listed.batch_id),
            operator.lastJobUpdate(listed.batch_id),
          ]);
          const batch = live
            ? { ...listed, completed_jobs: live.completed_jobs ?? 0, failed_jobs: live.failed_jobs ?? 0 }
            : listed;
          return { ...batch, progress: batchProgress(batch, last, now) };
        }),
      );
      return { status: 200, body: { batches, next_page_token: page.next ?? null } };
    }),

    route('GET', `${prefix}/batches/{batch_id}/jobs`, async (req, p) => {
      const batchId = parse(idSchema, p.batch_id, 'batch_id');
      const q = parse(batchJobsQuerySchema, req.query, 'query');
      const page = await operator.listBatchJobs(batchId, {
        status: q.status,
        limit: q.limit,
        after: listingToken(q.page_token),
      });
      return { status: 200, body: { batch_id: batchId, jobs: page.items, next_page_token: page.next ?? null } };
    }),
  ];
}
