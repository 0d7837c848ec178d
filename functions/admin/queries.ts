/**
 * The admin API's read routes: status (status.ts), metrics, active executions, and executions, jobs
 * and batches as stored. They change nothing.
 */
import type { AdminConfig } from '../../shared/config/config';
import { HttpError } from '../../shared/platform/errors';
import { windowMetrics } from '../../shared/observability/metrics';
import type { AdminStore, Clock } from '../../shared/ports';
import { idSchema } from '../../shared/contract/schemas';
import { activeQuerySchema, pageToken, parse, readPageToken } from './requests';
import { route, type Route } from './router';
import { createStatusRoute } from './status';

export interface QueryDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  /** Whether the completions topic exists and can be reached. */
  topicReachable: () => Promise<boolean>;
  clock: Clock;
  version: string;
}

export function createQueryRoutes(prefix: string, deps: QueryDeps): Route[] {
  const { store, clock } = deps;
  const PREFIX = prefix;
  return [
    createStatusRoute(PREFIX, deps),

    route('GET', `${PREFIX}/metrics`, async () => {
      const now = clock();
      const hourAgo = new Date(now.getTime() - 3600_000);
      const dayAgo = new Date(now.getTime() - 86_400_000);
      const [stats, completions, deadHour, deadDay] = await Promise.all([
        store.webhookStatsSince(dayAgo),
        store.completionsSince(dayAgo),
        store.countDeadLettersSince(hourAgo),
        store.countDeadLettersSince(dayAgo),
      ]);
      return {
        status: 200,
        body: {
          generated_at: now.toISOString(),
          windows: {
            // One read of the day's completions serves both windows.
            last_hour: windowMetrics(hourAgo, stats, completions, deadHour),
            last_day: windowMetrics(dayAgo, stats, completions, deadDay),
          },
        },
      };
    }),

    route('GET', `${PREFIX}/active-executions`, async (req) => {
      const q = parse(activeQuerySchema, req.query, 'query');
      const items = await store.listExecutions({
        status: q.status,
        batchId: q.batch_id,
        limit: q.limit,
        after: readPageToken(q.page_token),
      });
      const now = clock().getTime();
      return {
        status: 200,
        body: {
          executions: items.map((e) => ({
            call_id: e.call_id,
            job_id: e.job_id,
            batch_id: e.batch_id ?? null,
            app: e.app ?? null,
            status: e.status,
            registered_at: e.registered_at ?? null,
            age_seconds: e.registered_at ? Math.round((now - e.registered_at.getTime()) / 1000) : null,
          })),
          next_page_token: items.length === q.limit ? pageToken(items.at(-1)!) : null,
        },
      };
    }),

    route('GET', `${PREFIX}/executions/{call_id}`, async (_req, p) => {
      const execution = await store.getExecution(parse(idSchema, p.call_id, 'call_id'));
      if (!execution) throw new HttpError('execution_not_found', 404, `no execution ${p.call_id}`);
      return { status: 200, body: execution };
    }),

    route('GET', `${PREFIX}/jobs/{job_id}`, async (_req, p) => {
      const jobId = parse(idSchema, p.job_id, 'job_id');
      const job = await store.getJob(jobId);
      if (!job) throw new HttpError('job_not_found', 404, `no job ${jobId}`);
      return { status: 200, body: { job_id: jobId, ...job } };
    }),

    route('GET', `${PREFIX}/batches/{batch_id}`, async (_req, p) => {
      const batchId = parse(idSchema, p.batch_id, 'batch_id');
      const batch = await store.getBatch(batchId);
      if (!batch) throw new HttpError('batch_not_found', 404, `no batch ${batchId}`);
      return { status: 200, body: { batch_id: batchId, ...batch } };
    }),
  ];
}
