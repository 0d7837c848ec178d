/**
 * The reconciler's three modes against a fake Modal status server on loopback, with the worker
 * wired in-process behind the completions publisher.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createReconciler } from '../../../functions/reconciler/handler';
import { createFirestoreAdminStore } from '../../../shared/adapters/firestore-admin';
import { createFirestoreOperatorStore } from '../../../shared/adapters/firestore-operator';
import { loadReconcilerConfig } from '../../../shared/config/config';
import { memoryLogger } from '../../../shared/observability/log';
import { signedByControl } from '../../support/fake-modal-control';
import { completionMessage, emulatorFirestore, inProcessBus, testWorker } from '../../support/worker';

jest.setTimeout(60_000);
const SECRET = 'whsec_cmVjb25jaWxlLXRlc3Qta2V5a2tra2tra2tra2tra2s=';

/** Answers POST /status like the Modal app in examples/modal; checks the signature. */
async function fakeModalStatus(answers: Record<string, unknown>) {
  const asked: string[] = [];
  let badSignatures = 0;
  const server: Server = createServer(
    (req, res) =>
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const raw = Buffer.concat(chunks);
        const signed = signedByControl(SECRET, req, raw);
        if (!signed) {
          badSignatures++;
          res.writeHead(401).end();
          return;
        }
        const { call_id } = JSON.parse(raw.toString()) as { call_id: string };
        asked.push(call_id);
        const answer = answers[call_id];
        if (answer === undefined) res.writeHead(500).end('boom');
        else
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ call_id, ...(answer as object) }));
      })(),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    badSignatures: () => badSignatures,
    close: () => server.close(),
  };
}

function setup(mode: string, statusUrl?: string) {
  const w = testWorker();
  const bus = inProcessBus(w);
  const config = loadReconcilerConfig({
    MODAL_WEBHOOK_SECRET: SECRET,
    COMPLETION_MODE: mode,
    STALE_AFTER_SECONDS: '600',
    ...(statusUrl ? { MODAL_STATUS_URL: statusUrl } : {}),
    JOBS_COLLECTION: w.collections.jobs,
    BATCHES_COLLECTION: w.collections.batches,
    PIPELINE_COLLECTION_PREFIX: w.collections.executions.replace(/executions$/, ''),
  });
  const store = createFirestoreAdminStore(emulatorFirestore(), config.collections);
  const logger = memoryLogger();
  const reconciler = createReconciler({ config, store, completions: bus, fetch, clock: () => new Date(), logger });
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
  const register = (callId: string, jobId: string, at: Date, batchId?: string) =>
    store.registerExecution({ call_id: callId, job_id: jobId, batch_id: batchId }, at);
  return { w, bus, reconciler, logger, minutesAgo, register, collections: config.collections };
}

it('dual: polls every running execution and applies what it learns as poll-sourced completions', async () => {
  const modal = await fakeModalStatus({
    'call-done': { status: 'success', result: { affinity: 0.7, confidence: 0.6 } },
    'call-failed': { status: 'function.failure', error: { message: 'OOM' } },
    'call-young': { status: 'running' },
  });
  const s = setup('dual', modal.url);
  await s.w.batches.doc('b').set({ total_jobs: 2 });
  await s.register('call-done', 'job-done', s.minutesAgo(30), 'b');
  await s.register('call-failed', 'job-failed', s.minutesAgo(20), 'b');
  await s.register('call-young', 'job-young', s.minutesAgo(1));
  await s.register('call-broken', 'job-broken', s.minutesAgo(40));
  const summary = await s.reconciler.reconcile();
  modal.close();
  expect(summary).toEqual({
    mode: 'dual',
    examined: 4,
    polled: 4,
    completed_by_poll: 2,
    still_running: 1,
    marked_stale: 0,
    poll_failures: 1,
  });
  expect(modal.badSignatures()).toBe(0);
  expect((await s.w.jobs.doc('job-done').get()).data()).toMatchObject({
    status: 'completed',
    completion_source: 'poll',
    result: { affinity: 0.7 },
  });
  expect((await s.w.jobs.doc('job-failed').get()).data()).toMatchObject({
    status: 'failed',
    completion_source: 'poll',
    error: { message: 'OOM' },
  });
  expect((await s.w.jobs.doc('job-young').get()).data()?.status).toBe('running');
  expect((await s.w.batches.doc('b').get()).data()).toMatchObject({
    status: 'completed',
    completed_jobs: 1,
    failed_jobs: 1,
  });
  expect(s.logger.lines.find((l) => l.event === 'pollFailed')).toMatchObject({ call_id: 'call-broken' });

  // A webhook for a call the poll already completed changes nothing (same delivery id).
  const again = await s.reconciler.reconcile();
  expect(again.examined).toBe(2);
});

it('webhook_primary: polls only executions running longer than STALE_AFTER_SECONDS', async () => {
  const modal = await fakeModalStatus({ 'call-old': { status: 'timeout' }, 'call-new': { status: 'success' } });
  const s = setup('webhook_primary', modal.url);
  await s.register('call-old', 'job-old', s.minutesAgo(15));
  await s.register('call-new', 'job-new', s.minutesAgo(2));
  const summary = await s.reconciler.reconcile();
  modal.close();
  expect(summary).toMatchObject({ mode: 'webhook_primary', examined: 1, polled: 1, completed_by_poll: 1 });
  expect(modal.asked).toEqual(['call-old']);
  expect((await s.w.jobs.doc('job-old').get()).data()).toMatchObject({ status: 'timeout', completion_source: 'poll' });
  expect((await s.w.jobs.doc('job-new').get()).data()?.status).toBe('running');
});

it('webhook_only: polls nothing, marks stale executions and logs an alert-worthy event; a late webhook still applies', async () => {
  const s = setup('webhook_only');
  await s.register('call-lost', 'job-lost', s.minutesAgo(45), 'b2');
  await s.register('call-fresh', 'job-fresh', s.minutesAgo(3));
  const summary = await s.reconciler.reconcile();
  expect(summary).toEqual({
    mode: 'webhook_only',
    examined: 1,
    polled: 0,
    completed_by_poll: 0,
    still_running: 0,
    marked_stale: 1,
    poll_failures: 0,
  });
  expect(s.bus.sent).toEqual([]);
  expect((await s.w.jobs.doc('job-lost').get()).data()).toMatchObject({ status: 'stale' });
  expect((await s.w.jobs.doc('job-fresh').get()).data()?.status).toBe('running');
  expect(s.logger.lines.find((l) => l.event === 'executionStale')).toMatchObject({
    severity: 'WARNING',
    call_id: 'call-lost',
    job_id: 'job-lost',
    age_seconds: expect.any(Number),
  });
  expect((await s.reconciler.reconcile()).examined).toBe(0);

  const late = { call_id: 'call-lost', status: 'success', metadata: { job_id: 'job-lost', batch_id: 'b2' } };
  await s.w.handleMessage({ ...completionMessage(late), messageId: 'late' });
  expect((await s.w.jobs.doc('job-lost').get()).data()).toMatchObject({ status: 'completed' });
});

it("records each scheduled pass where the operator page reads the reconciler's last activity", async () => {
  const s = setup('webhook_only');
  const operator = createFirestoreOperatorStore(emulatorFirestore(), s.collections);
  expect((await operator.lastActivity()).reconciler).toBeNull();
  const before = Date.now();
  await s.reconciler.reconcileExecutions({} as never);
  const at = (await operator.lastActivity()).reconciler;
  expect(at?.getTime()).toBeGreaterThanOrEqual(before);
});
