/**
 * The admin API on the Firestore emulator, with the webhook and the worker wired in-process (the
 * publisher hands messages straight to the worker) and a fake Modal control server on loopback.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminHandler } from '../../../functions/admin/handler';
import { createFirestoreAdminStore } from '../../../shared/adapters/firestore-admin';
import { createFirestoreOperatorStore } from '../../../shared/adapters/firestore-operator';
import { createLocalBlobStore } from '../../../shared/adapters/local-files';
import { loadAdminConfig, loadWebhookConfig } from '../../../shared/config/config';
import { memoryLogger } from '../../../shared/observability/log';
import { encodeOwnCompletion } from '../../../shared/contract/messages';
import { completionPayloadSchema } from '../../../shared/contract/schemas';
import { createStatsBuffer } from '../../../shared/observability/stats';
import { failurePayload, successPayload } from '../../support/fixtures';
import { ADMIN_POST_HEADERS, postSigned, serveHttp, type Served } from '../../support/http';
import { emulatorFirestore, encodedForWorker, inProcessBus, testWorker } from '../../support/worker';
import { serveWebhook } from '../../support/webhook';
import { fakeModalControl } from '../../support/fake-modal-control';

jest.setTimeout(60_000);
const SECRET = 'whsec_YWRtaW4tdGVzdC1rZXlra2tra2tra2tra2tra2tra2s=';
const PREFIX = '/api/v3/webhooks';

describe('webhookAdmin', () => {
  const w = testWorker();
  const bus = inProcessBus(w);
  let webhook: Served;
  let admin: Served;
  let control: Awaited<ReturnType<typeof fakeModalControl>>;
  let topicUp = true;
  const logger = memoryLogger();

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(admin.url + PREFIX + path, {
      method,
      headers: method === 'POST' ? ADMIN_POST_HEADERS : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: await res.json(), headers: res.headers };
  };
  const send = (payload: unknown, secret = SECRET) => postSigned(webhook.url, JSON.stringify(payload), { secret });

  beforeAll(async () => {
    control = await fakeModalControl(SECRET);
    const dir = mkdtempSync(join(tmpdir(), 'omtx-admin-'));
    webhook = await serveWebhook({
      config: loadWebhookConfig({
        MODAL_WEBHOOK_SECRET: SECRET,
        MODAL_WEBHOOK_SECRET_PREVIOUS: 'whsec_YWRtaW4tcHJldmlvdXMta2V5LWtra2tra2tra2tra2tr',
        RESULTS_DIR: dir,
        STATS_FLUSH_SECONDS: '0',
      }),
      publisher: bus,
      claims: createLocalBlobStore(dir),
      clock: () => new Date(),
      logger: memoryLogger(),
      version: 'test',
      stats: createStatsBuffer(0),
    });
    const config = loadAdminConfig({
      MODAL_WEBHOOK_SECRET: SECRET,
      JOBS_COLLECTION: w.collections.jobs,
      BATCHES_COLLECTION: w.collections.batches,
      PIPELINE_COLLECTION_PREFIX: w.collections.executions.replace(/executions$/, ''),
      WEBHOOK_URL: `${webhook.url}/api/v3/webhooks/modal/completion`,
      MODAL_CONTROL_URL: control.url,
      MODAL_APPS: 'omtx-boltz2,omtx-chai1',
    });
    admin = await serveHttp(
      createAdminHandler({
        config,
        store: createFirestoreAdminStore(emulatorFirestore(), config.collections),
        operator: createFirestoreOperatorStore(emulatorFirestore(), config.collections),
        completions: bus,
        topicReachable: async () => topicUp,
        fetch,
        clock: () => new Date(),
        logger,
        version: 'test',
      }),
    );
  });

  afterAll(async () => {
    await webhook.close();
    await admin.close();
    control.server.close();
  });

  it('registers an execution, lists it as active with its age, and reads the job back', async () => {
    const reg = await api('POST', '/executions', {
      call_id: 'call-a1',
      job_id: 'job-a1',
      batch_id: 'batch-a',
      app: 'omtx-boltz2',
    });
    expect(reg.status).toBe(201);
    expect((await api('POST', '/executions', { call_id: 'call-a1', job_id: 'job-a1' })).status).toBe(200);
    await api('POST', '/executions', { call_id: 'call-a2', job_id: 'job-a2', batch_id: 'batch-b' });
    const active = await api('GET', '/active-executions');
    expect(active.json.executions.map((e: any) => e.call_id)).toEqual(['call-a1', 'call-a2']);
    expect(active.json.executions[0]).toMatchObject({
      job_id: 'job-a1',
      batch_id: 'batch-a',
      app: 'omtx-boltz2',
      status: 'running',
      age_seconds: expect.any(Number),
    });
    const filtered = await api('GET', '/active-executions?batch_id=batch-b');
    expect(filtered.json.executions.map((e: any) => e.call_id)).toEqual(['call-a2']);
    expect((await api('GET', '/jobs/job-a1')).json).toMatchObject({
      job_id: 'job-a1',
      status: 'running',
      modal_call_id: 'call-a1',
      batch_id: 'batch-a',
    });
  });

  it('pages active executions oldest first', async () => {
    for (let i = 0; i < 5; i++)
      await api('POST', '/executions', { call_id: `call-p${i}`, job_id: `job-p${i}`, batch_id: 'batch-pages' });
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page: any = await api(
        'GET',
        `/active-executions?batch_id=batch-pages&limit=2${token ? `&page_token=${token}` : ''}`,
      );
      expect(page.json.executions.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.executions.map((e: any) => e.call_id));
      token = page.json.next_page_token;
    } while (token);
    expect(seen).toEqual(['call-p0', 'call-p1', 'call-p2', 'call-p3', 'call-p4']);
  });

  it('takes a completed execution off the active list when its webhook arrives', async () => {
    expect((await send(successPayload({ call_id: 'call-a1', job_id: 'job-a1', batch_id: 'batch-a' }))).status).toBe(
      202,
    );
    const active = await api('GET', '/active-executions');
    expect(active.json.executions.map((e: any) => e.call_id)).not.toContain('call-a1');
    expect((await api('GET', '/executions/call-a1')).json).toMatchObject({ status: 'completed' });
  });

  it('cancels idempotently, counts the job as failed in its batch, forwards a signed cancel to Modal', async () => {
    await api('POST', '/batches', { batch_id: 'batch-c', job_ids: ['job-c1', 'job-c2'] });
    await api('POST', '/executions', { call_id: 'call-c1', job_id: 'job-c1', batch_id: 'batch-c' });
    await api('POST', '/executions', { call_id: 'call-c2', job_id: 'job-c2', batch_id: 'batch-c' });
    const first = await api('POST', '/executions/call-c1/cancel', { reason: 'user asked' });
    expect(first.json).toMatchObject({
      status: 'cancelled',
      job_id: 'job-c1',
      modal: { forwarded: true, modal_status: 200 },
    });
    expect(control.calls.at(-1)).toMatchObject({
      path: '/cancel',
      body: { call_id: 'call-c1', job_id: 'job-c1', reason: 'user asked' },
      signatureOk: true,
    });
    const again = await api('POST', '/executions/call-c1/cancel');
    expect(again.json).toMatchObject({ status: 'already_cancelled', modal: { forwarded: false } });
    expect(control.calls.filter((c) => c.body.call_id === 'call-c1')).toHaveLength(1);
    expect((await api('GET', '/jobs/job-c1')).json).toMatchObject({ status: 'cancelled', cancel_reason: 'user asked' });

    // A webhook arriving after the cancel does not revive the job.
    await send(successPayload({ call_id: 'call-c1', job_id: 'job-c1', batch_id: 'batch-c' }));
    expect((await api('GET', '/jobs/job-c1')).json.status).toBe('cancelled');

    await send(successPayload({ call_id: 'call-c2', job_id: 'job-c2', batch_id: 'batch-c' }));
    const batch = await api('GET', '/batches/batch-c');
    expect(batch.json).toMatchObject({
      status: 'completed',
      total_jobs: 2,
      completed_jobs: 1,
      failed_jobs: 1,
      summary: { cancelled_jobs: 1 },
    });
  });

  it('refuses to cancel a finished job, and answers 404 for an unknown call', async () => {
    expect(await api('POST', '/executions/call-c2/cancel')).toMatchObject({
      status: 409,
      json: { error: 'already_terminal', job_status: 'completed' },
    });
    expect(await api('POST', '/executions/call-nope/cancel')).toMatchObject({
      status: 404,
      json: { error: 'execution_not_found' },
    });
  });

  it('registers a batch whose jobs already finished and finalises it', async () => {
    await send(successPayload({ call_id: 'call-e1', job_id: 'job-e1', batch_id: 'batch-early' }));
    await send(failurePayload({ call_id: 'call-e2', job_id: 'job-e2', batch_id: 'batch-early' }));
    const reg = await api('POST', '/batches', { batch_id: 'batch-early', total_jobs: 2 });
    expect(reg).toMatchObject({ status: 201, json: { created: true, total_jobs: 2 } });
    expect(bus.sent.at(-1)).toMatchObject({ kind: 'batch_check', batch_id: 'batch-early' });
    expect((await api('GET', '/batches/batch-early')).json).toMatchObject({
      status: 'completed',
      summary: { completed_jobs: 1, failed_jobs: 1 },
    });
  });

  it.each([
    ['/batches', { batch_id: 'x' }, 'total_jobs'],
    ['/batches', { batch_id: 'x', job_ids: ['a', 'b'], total_jobs: 3 }, 'total_jobs'],
    ['/batches', { batch_id: 'x', job_ids: ['a', 'a'] }, 'job_ids'],
    ['/executions', { call_id: 'c', job_id: '../j' }, 'job_id'],
    ['/executions', { call_id: 'c', job_id: 'j', surprise: 1 }, '(root)'],
  ])('validates POST %s %j (422 naming %s)', async (path, body, field) => {
    const res = await api('POST', path, body);
    expect(res.status).toBe(422);
    expect(res.json.error).toBe('invalid_request');
    expect(res.json.issues.map((i: any) => i.path)).toContain(field);
  });

  it('answers JSON errors for unknown paths, wrong methods and missing documents', async () => {
    expect(await api('GET', '/nope')).toMatchObject({ status: 404, json: { error: 'not_found' } });
    const wrong = await api('DELETE', '/executions');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await api('GET', '/jobs/never')).toMatchObject({ status: 404, json: { error: 'job_not_found' } });
    expect(await api('GET', '/active-executions?limit=1000')).toMatchObject({ status: 422 });
    expect(await api('GET', '/active-executions?page_token=garbage')).toMatchObject({ status: 422 });
  });

  it.each([
    ['GET', '/executions/%E0%A4%A'],
    ['GET', '/jobs/%'],
    ['GET', '/batches/a%zz'],
    ['POST', '/executions/%E0%A4%A/cancel'],
  ])('answers a malformed percent-escape in %s %s with 400, never a 503', async (method, path) => {
    // The Functions Framework's router (Express 5) decodes the path first and answers these itself;
    // the admin's own router answers 400 too for any it lets through (unit test).
    const res = await fetch(admin.url + PREFIX + path, {
      method,
      headers: ADMIN_POST_HEADERS,
      ...(method === 'POST' ? { body: '{"reason":"x"}' } : {}),
    });
    expect(res.status).toBe(400);
  });

  it('sends a signed test delivery through the real webhook path that touches no job or batch', async () => {
    const res = await api('POST', '/modal/test');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      status: 'ok',
      delivered: true,
      arrived: true,
      webhook_status: 202,
      accepted_ms: expect.any(Number),
      end_to_end_ms: expect.any(Number),
    });
    const jobs = await w.jobs.where('modal_call_id', '==', res.json.call_id).get();
    expect(jobs.empty).toBe(true);
  });

  it('reports status from real checks: apps configured by verified webhooks with the current secret', async () => {
    const payload = successPayload({ call_id: 'call-s2', job_id: 'job-s2' });
    payload.metadata.app = 'omtx-boltz2';
    await send(payload);
    const previous = successPayload({ call_id: 'call-s3', job_id: 'job-s3' });
    previous.metadata.app = 'omtx-chai1';
    await send(previous, 'whsec_YWRtaW4tcHJldmlvdXMta2V5LWtra2tra2tra2tra2tr');
    let status = await api('GET', '/status');
    expect(status.json).toMatchObject({
      configured: false,
      apps_configured: 1,
      total_apps: 2,
      health_status: 'degraded',
      checks: { topic_reachable: true, firestore_reachable: true, secret_configured: true },
      accepted_signature_schemes: ['modal', 'standard'],
    });
    expect(status.json.apps).toEqual([
      expect.objectContaining({
        app: 'omtx-boltz2',
        configured: true,
        signed_with: 'current',
        last_call_id: 'call-s2',
      }),
      expect.objectContaining({ app: 'omtx-chai1', configured: false, signed_with: 'previous' }),
    ]);
    expect(JSON.stringify(status.json)).not.toContain(SECRET);
    topicUp = false;
    status = await api('GET', '/status');
    expect(status.json).toMatchObject({
      health_status: 'unhealthy',
      configured: false,
      checks: { topic_reachable: false },
    });
    topicUp = true;
  });

  it('processes a completion by hand: published with source manual and the operator, applied once when sent twice', async () => {
    const payload = successPayload({ call_id: 'call-manual', job_id: 'job-manual' }, { affinity: 0.42 });
    const post = () =>
      fetch(`${admin.url}${PREFIX}/completions`, {
        method: 'POST',
        headers: { ...ADMIN_POST_HEADERS, 'x-operator': 'oncall@example.com' },
        body: JSON.stringify(payload),
      }).then(async (r) => ({ status: r.status, json: await r.json() }));
    const first = await post();
    expect(first).toMatchObject({
      status: 202,
      json: {
        status: 'accepted',
        source: 'manual',
        operator: 'oncall@example.com',
        delivery_id: expect.stringMatching(/^dlv_/),
      },
    });
    const second = await post();
    expect(second.json.delivery_id).toBe(first.json.delivery_id);
    const job = (await w.jobs.doc('job-manual').get()).data()!;
    expect(job).toMatchObject({
      status: 'completed',
      completion_source: 'manual',
      completed_by: 'oncall@example.com',
      result: { affinity: 0.42 },
    });
    expect(w.logger.lines.filter((l) => l.event === 'completionApplied' && l.job_id === 'job-manual')).toHaveLength(1);
    expect(w.logger.lines.filter((l) => l.event === 'completionDuplicate' && l.job_id === 'job-manual')).toHaveLength(
      1,
    );
    const bad = await api('POST', '/completions', { call_id: 'c', status: 'exploded', metadata: { job_id: 'j' } });
    expect(bad).toMatchObject({ status: 422, json: { error: 'invalid_payload', issues: [{ path: 'status' }] } });
  });

  it('reports metrics: webhooks by outcome, completions by status and source, latency percentiles, dead letters', async () => {
    await postSigned(webhook.url, '{}', { secret: 'wrong-secret' });
    await postSigned(webhook.url, '{}', { secret: SECRET, timestamp: Math.floor(Date.now() / 1000) - 1000 });
    await w.handleMessage({ messageId: 'poison-1', data: Buffer.from('nope').toString('base64'), attributes: {} });
    const poll = successPayload({ call_id: 'call-poll', job_id: 'job-poll' });
    await w.handleMessage({
      messageId: 'poll-1',
      ...encodedForWorker(encodeOwnCompletion(completionPayloadSchema.parse(poll), 'poll', new Date())),
    });
    // The webhook counts reach the worker with the next request's flush.
    await send(successPayload({ call_id: 'call-m1', job_id: 'job-m1' }));
    const metrics = await api('GET', '/metrics');
    expect(metrics.status).toBe(200);
    const hour = metrics.json.windows.last_hour;
    expect(hour.webhooks.accepted).toBeGreaterThanOrEqual(8);
    expect(hour.webhooks.rejected.by_reason).toMatchObject({ bad_signature: 1, stale_timestamp: 1 });
    expect(hour.completions.by_source).toMatchObject({ webhook: expect.any(Number), poll: 1, manual: 1 });
    expect(hour.completions.by_status).toMatchObject({ completed: expect.any(Number), failed: 1, cancelled: 1 });
    expect(hour.dead_letters).toBe(1);
    expect(hour.processing_latency_ms).toMatchObject({
      count: expect.any(Number),
      p50: expect.any(Number),
      p95: expect.any(Number),
      p99: expect.any(Number),
    });
    expect(metrics.json.windows.last_day.completions.total).toBeGreaterThanOrEqual(hour.completions.total);
  });

  it('pages batches by last change with exact live counts, and refuses a page token it did not make', async () => {
    for (const b of ['page-b1', 'page-b2', 'page-b3'])
      expect((await api('POST', '/batches', { batch_id: b, total_jobs: 2 })).status).toBe(201);
    await send(successPayload({ call_id: 'call-pb', job_id: 'job-pb', batch_id: 'page-b3' }));
    const first = await api('GET', '/batches?status=running&limit=2');
    expect(first.json.batches.map((b: any) => b.batch_id)).toEqual(['page-b3', 'page-b2']);
    expect(first.json.batches[0].progress).toMatchObject({ total: 2, completed: 1, failed: 0, pending: 1 });
    expect(first.json.batches[0].progress.since_last_completion_seconds).toEqual(expect.any(Number));
    const rest = await api('GET', `/batches?status=running&limit=2&page_token=${first.json.next_page_token}`);
    expect(rest.json.batches.map((b: any) => b.batch_id)).toContain('page-b1');
    expect(rest.json.batches.map((b: any) => b.batch_id)).not.toContain('page-b3');
    expect(await api('GET', '/batches?page_token=forged')).toMatchObject({ status: 422 });
    expect(await api('GET', '/batches?limit=1000')).toMatchObject({ status: 422 });
    const jobs = await api('GET', '/batches/page-b3/jobs');
    expect(jobs.json.jobs).toEqual([
      expect.objectContaining({ job_id: 'job-pb', status: 'completed', affinity: expect.any(Number) }),
    ]);
    expect(Object.keys(jobs.json.jobs[0]).sort()).toEqual([
      'affinity',
      'confidence',
      'error',
      'job_id',
      'modal_call_id',
      'status',
      'updated_at',
    ]);
  });

  it('gives the overview from real state, every signal named', async () => {
    const overview = await api('GET', '/overview');
    expect(overview.status).toBe(200);
    expect(overview.json.health.signals.map((s: any) => s.name)).toEqual([
      'backing_services',
      'webhook_availability',
      'completion_freshness',
      'dead_letters',
      'stale_executions',
      'reconciler',
      'modal_apps',
    ]);
    expect(overview.json.activity.worker.age_seconds).toEqual(expect.any(Number));
    expect(overview.json.apps.map((a: any) => a.app)).toEqual(expect.arrayContaining(['omtx-boltz2', 'omtx-chai1']));
    expect(JSON.stringify(overview.json)).not.toContain(SECRET);
  });
});
