/**
 * The admin API (HTTP function `webhookAdmin`, private: IAM-authenticated in production). The seed
 * guide's operator endpoints, computed from real state: status, metrics, active executions,
 * cancel, registration of executions and batches, state as stored, and a test delivery through the
 * real webhook. Described in docs/openapi.yaml.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import type { AdminConfig } from '../../shared/config';
import { planCancel } from '../../shared/completion';
import { deliveryId } from '../../shared/delivery';
import type { Logger } from '../../shared/log';
import { windowMetrics } from '../../shared/metrics';
import type { AdminStore, Clock, ExecutionDoc, Publisher } from '../../shared/ports';
import { encodeBatchCheck } from '../../shared/messages';
import { describeIssues, idSchema, TERMINAL_STATUSES } from '../../shared/schemas';
import { sign } from '../../shared/signature';

export interface AdminDeps {
  config: Readonly<AdminConfig>;
  store: AdminStore;
  /** The completions topic: batch checks after registration or cancel. */
  completions: Publisher;
  /** Whether the completions topic exists and can be reached. */
  topicReachable: () => Promise<boolean>;
  fetch: typeof fetch;
  clock: Clock;
  logger: Logger;
  version: string;
}

const PREFIX = '/api/v3/webhooks';

class AdminError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

type Handler = (req: Request, params: Record<string, string>) => Promise<{ status: number; body: unknown }>;
interface Route {
  path: string;
  method: 'GET' | 'POST';
  pattern: RegExp;
  keys: string[];
  handle: Handler;
}

function route(method: Route['method'], path: string, handle: Handler): Route {
  const keys: string[] = [];
  const pattern = new RegExp('^' + path.replace(/\{(\w+)\}/g, (_, key: string) => (keys.push(key), '([^/]+)')) + '/?$');
  return { path: `${method} ${path}`, method, pattern, keys, handle };
}

function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new AdminError(422, 'invalid_request', `${where} is invalid`, { issues: describeIssues(result.error) });
  return result.data;
}

const registerExecutionSchema = z.strictObject({
  call_id: idSchema,
  job_id: idSchema,
  batch_id: idSchema.optional(),
  app: idSchema.optional(),
});

const registerBatchSchema = z
  .strictObject({
    batch_id: idSchema,
    job_ids: z.array(idSchema).min(1).max(10_000).optional(),
    total_jobs: z.number().int().min(0).max(1_000_000).optional(),
  })
  .refine((b) => b.job_ids !== undefined || b.total_jobs !== undefined, { message: 'give job_ids or total_jobs', path: ['total_jobs'] })
  .refine((b) => b.job_ids === undefined || b.total_jobs === undefined || b.total_jobs === b.job_ids.length, {
    message: 'total_jobs must equal the number of job_ids',
    path: ['total_jobs'],
  })
  .refine((b) => b.job_ids === undefined || new Set(b.job_ids).size === b.job_ids.length, { message: 'job_ids repeat', path: ['job_ids'] });

const activeQuerySchema = z.strictObject({
  batch_id: idSchema.optional(),
  status: z.enum(['running', 'stale']).default('running'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  page_token: z.string().max(512).optional(),
});

const cancelSchema = z.strictObject({ reason: z.string().max(500).optional() });
const testSchema = z.strictObject({ wait: z.boolean().default(true) });

function pageToken(e: ExecutionDoc): string {
  return Buffer.from(JSON.stringify({ r: (e.registered_at as Date).toISOString(), c: e.call_id })).toString('base64url');
}

function readPageToken(token: string | undefined): { registeredAt: Date; callId: string } | undefined {
  if (!token) return undefined;
  try {
    const { r, c } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { r: string; c: string };
    const registeredAt = new Date(r);
    if (Number.isNaN(registeredAt.getTime()) || typeof c !== 'string') throw new Error('bad token');
    return { registeredAt, callId: c };
  } catch {
    throw new AdminError(422, 'invalid_request', 'page_token is not one this API returned');
  }
}

export function createAdminHandler(deps: AdminDeps) {
  const { config, store, clock, logger } = deps;

  async function publishBatchCheck(batchId: string): Promise<void> {
    const message = encodeBatchCheck(batchId);
    await deps.completions.publish(message.data, message.attributes);
  }

  async function signedPost(url: string, payload: unknown): Promise<{ status: number; text: string }> {
    const body = JSON.stringify(payload);
    const res = await deps.fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'OMTX-Webhooks-Admin/1.0',
        'x-modal-signature': sign(config.secret, body),
        'x-modal-timestamp': String(Math.floor(clock().getTime() / 1000)),
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, text: (await res.text()).slice(0, 500) };
  }

  const routes: Route[] = [
    route('GET', `${PREFIX}/status`, async () => {
      const [topicReachable, firestoreReachable] = await Promise.all([
        deps.topicReachable().catch(() => false),
        store.ping().then(() => true, () => false),
      ]);
      const appDocs = firestoreReachable ? await store.listApps() : [];
      const names = new Set<string>([...config.expectedApps, ...appDocs.map((a) => String(a.app))]);
      const apps = [...names].sort().map((app) => {
        const doc = appDocs.find((a) => a.app === app);
        return {
          app,
          expected: config.expectedApps.includes(app),
          configured: doc?.signed_with === 'current',
          signed_with: doc?.signed_with ?? null,
          signature_scheme: doc?.signature_scheme ?? null,
          last_verified_at: doc?.last_verified_at ?? null,
          last_call_id: doc?.last_call_id ?? null,
        };
      });
      const appsConfigured = apps.filter((a) => a.configured).length;
      const reachable = topicReachable && firestoreReachable;
      return {
        status: 200,
        body: {
          configured: reachable && apps.length > 0 && appsConfigured === apps.length,
          base_url: config.baseUrl ?? null,
          apps_configured: appsConfigured,
          total_apps: apps.length,
          health_status: !reachable ? 'unhealthy' : appsConfigured < apps.length ? 'degraded' : 'healthy',
          checks: {
            secret_configured: config.secret.length > 0,
            topic_reachable: topicReachable,
            firestore_reachable: firestoreReachable,
            webhook_url_configured: Boolean(config.webhookUrl),
            modal_control_url_configured: Boolean(config.modalControlUrl),
          },
          apps,
          version: deps.version,
        },
      };
    }),

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
      const items = await store.listExecutions({ status: q.status, batchId: q.batch_id, limit: q.limit, after: readPageToken(q.page_token) });
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
            age_seconds: e.registered_at ? Math.round((now - (e.registered_at as Date).getTime()) / 1000) : null,
          })),
          next_page_token: items.length === q.limit ? pageToken(items.at(-1)!) : null,
        },
      };
    }),

    route('GET', `${PREFIX}/executions/{call_id}`, async (_req, p) => {
      const execution = await store.getExecution(parse(idSchema, p.call_id, 'call_id'));
      if (!execution) throw new AdminError(404, 'execution_not_found', `no execution ${p.call_id}`);
      return { status: 200, body: execution };
    }),

    route('POST', `${PREFIX}/executions/{call_id}/cancel`, async (req, p) => {
      const callId = parse(idSchema, p.call_id, 'call_id');
      const { reason } = parse(cancelSchema, req.body, 'body');
      const execution = await store.getExecution(callId);
      if (!execution) throw new AdminError(404, 'execution_not_found', `no execution ${callId}`);
      const job = await store.getJob(execution.job_id);
      if (job?.status && TERMINAL_STATUSES.has(job.status) && job.status !== 'cancelled') {
        throw new AdminError(409, 'already_terminal', `job ${execution.job_id} is already ${job.status}`, { job_status: job.status });
      }
      const plan = await store.applyToJob(execution.job_id, (existing) => planCancel(existing, callId, clock(), reason));
      const first = plan.kind === 'apply';
      // Also on a repeated cancel: if the first one failed to publish, the batch still gets checked.
      const batchId = (plan.kind === 'apply' ? plan.batch?.batchId : undefined) ?? job?.batch_id ?? execution.batch_id;
      if (batchId) await publishBatchCheck(batchId);

      let modal: Record<string, unknown>;
      if (!config.modalControlUrl) {
        modal = { forwarded: false, note: 'MODAL_CONTROL_URL is not set: the job is marked cancelled here, but the Modal call keeps running until it ends' };
      } else if (!first) {
        modal = { forwarded: false, note: 'already cancelled; the cancel request was forwarded the first time' };
      } else {
        try {
          const res = await signedPost(`${config.modalControlUrl.replace(/\/$/, '')}/cancel`, { call_id: callId, job_id: execution.job_id, reason: reason ?? null });
          modal = { forwarded: res.status < 300, modal_status: res.status, ...(res.status < 300 ? {} : { modal_response: res.text }) };
        } catch (err) {
          logger.log('WARNING', 'cancelForwardFailed', `cancel not forwarded to Modal: ${String(err)}`, { call_id: callId, job_id: execution.job_id });
          modal = { forwarded: false, error: String(err) };
        }
      }
      logger.log('INFO', 'executionCancelled', first ? 'execution cancelled' : 'execution already cancelled', {
        call_id: callId, job_id: execution.job_id, batch_id: execution.batch_id ?? undefined, forwarded: modal.forwarded,
      });
      return {
        status: 200,
        body: { status: first ? 'cancelled' : 'already_cancelled', call_id: callId, job_id: execution.job_id, batch_id: execution.batch_id ?? null, modal },
      };
    }),

    route('POST', `${PREFIX}/executions`, async (req) => {
      const input = parse(registerExecutionSchema, req.body, 'body');
      const { created, execution } = await store.registerExecution(input, clock());
      logger.log('INFO', 'executionRegistered', created ? 'execution registered' : 'execution was already registered', {
        call_id: input.call_id, job_id: input.job_id, batch_id: input.batch_id,
      });
      return { status: created ? 201 : 200, body: { created, execution } };
    }),

    route('POST', `${PREFIX}/batches`, async (req) => {
      const input = parse(registerBatchSchema, req.body, 'body');
      const total = input.total_jobs ?? input.job_ids!.length;
      const { created } = await store.registerBatch({ batch_id: input.batch_id, total_jobs: total, job_ids: input.job_ids }, clock());
      // Jobs may have finished before the batch was registered: let the worker finalise it.
      await publishBatchCheck(input.batch_id);
      logger.log('INFO', 'batchRegistered', 'batch registered', { batch_id: input.batch_id, total_jobs: total });
      return { status: created ? 201 : 200, body: { created, batch_id: input.batch_id, total_jobs: total } };
    }),

    route('GET', `${PREFIX}/jobs/{job_id}`, async (_req, p) => {
      const jobId = parse(idSchema, p.job_id, 'job_id');
      const job = await store.getJob(jobId);
      if (!job) throw new AdminError(404, 'job_not_found', `no job ${jobId}`);
      return { status: 200, body: { job_id: jobId, ...job } };
    }),

    route('GET', `${PREFIX}/batches/{batch_id}`, async (_req, p) => {
      const batchId = parse(idSchema, p.batch_id, 'batch_id');
      const batch = await store.getBatch(batchId);
      if (!batch) throw new AdminError(404, 'batch_not_found', `no batch ${batchId}`);
      return { status: 200, body: { batch_id: batchId, ...batch } };
    }),

    route('POST', `${PREFIX}/modal/test`, async (req) => {
      const { wait } = parse(testSchema, req.body, 'body');
      if (!config.webhookUrl) throw new AdminError(503, 'not_configured', 'WEBHOOK_URL is not set: there is no webhook to test');
      const suffix = randomBytes(6).toString('hex');
      const payload = {
        call_id: `test-call-${suffix}`,
        status: 'success',
        result: { affinity: 0, confidence: 0, execution_time: 0 },
        metadata: { job_id: `test-job-${suffix}`, test: true, timestamp: clock().toISOString() },
      };
      const started = clock().getTime();
      let sent: { status: number; text: string };
      try {
        sent = await signedPost(config.webhookUrl, payload);
      } catch (err) {
        return { status: 502, body: { status: 'unreachable', delivered: false, error: String(err), webhook_url: config.webhookUrl } };
      }
      const acceptedMs = clock().getTime() - started;
      const base = { delivery_id: deliveryId(payload.call_id, 'success'), call_id: payload.call_id, webhook_url: config.webhookUrl, webhook_status: sent.status, accepted_ms: acceptedMs };
      if (sent.status !== 202) {
        return { status: 502, body: { status: 'rejected', delivered: false, ...base, webhook_response: sent.text } };
      }
      if (!wait) return { status: 202, body: { status: 'accepted', delivered: true, arrived: null, ...base } };
      const deadline = started + config.testTimeoutMs;
      while (clock().getTime() < deadline) {
        const arrived = await store.getTest(payload.metadata.job_id);
        if (arrived) {
          return { status: 200, body: { status: 'ok', delivered: true, arrived: true, ...base, end_to_end_ms: clock().getTime() - started, processing_latency_ms: arrived.processing_latency_ms ?? null } };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return { status: 504, body: { status: 'not_arrived', delivered: true, arrived: false, ...base, waited_ms: config.testTimeoutMs } };
    }),
  ];

  async function webhookAdmin(req: Request, res: Response): Promise<void> {
    const started = clock().getTime();
    const path = req.path;
    let status = 500;
    try {
      const matching = routes.filter((r) => r.pattern.test(path));
      if (matching.length === 0) throw new AdminError(404, 'not_found', `no route for ${path}`);
      const r = matching.find((m) => m.method === req.method);
      if (!r) {
        res.set('Allow', [...new Set(matching.map((m) => m.method))].join(', '));
        throw new AdminError(405, 'method_not_allowed', `use ${matching.map((m) => m.method).join(' or ')}`);
      }
      if (r.method === 'POST' && req.body !== undefined && Object.keys(req.body ?? {}).length > 0 && !req.is('application/json')) {
        throw new AdminError(415, 'unsupported_media_type', 'Content-Type must be application/json');
      }
      const match = r.pattern.exec(path)!;
      const params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(match[i + 1]!)]));
      const result = await r.handle(req, params);
      status = result.status;
      res.status(result.status).json(result.body);
    } catch (err) {
      const error = err instanceof AdminError ? err : new AdminError(503, 'unavailable', 'a backing service failed; retry', { cause: String(err) });
      status = error.status;
      logger.log(error.status >= 500 ? 'ERROR' : 'WARNING', 'adminRejected', error.message, { code: error.code, status: error.status, method: req.method, path, ...(error.status >= 500 ? error.extra : {}) });
      const { cause: _cause, ...extra } = error.extra;
      res.status(error.status).json({ error: error.code, message: error.message, ...extra });
    } finally {
      logger.log('INFO', 'adminRequest', `${req.method} ${path} → ${status}`, { method: req.method, path, status, duration_ms: clock().getTime() - started });
    }
  }

  /** `METHOD /path` of every route, for docs/openapi.yaml's consistency test. */
  return Object.assign(webhookAdmin, { routes: routes.map((r) => r.path) });
}
