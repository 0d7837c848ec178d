/** The admin API's router, request codec and commands, on in-memory stand-ins: no Firestore, no HTTP. */
import type { Request } from '@google-cloud/functions-framework';
import { createCommandRoutes } from '../../../../functions/admin/commands';
import { pageToken, readPageToken } from '../../../../functions/admin/requests';
import { matchRoute, route } from '../../../../functions/admin/router';
import { planCancel } from '../../../../shared/completion/completion';
import { loadAdminConfig } from '../../../../shared/config/config';
import { HttpError } from '../../../../shared/platform/errors';
import { memoryLogger } from '../../../../shared/observability/log';
import { createModalClient } from '../../../../shared/modal/modal-client';
import type { AdminStore, Publisher } from '../../../../shared/ports';
import type { ExecutionDoc, JobDoc } from '../../../../shared/contract/schemas';

it('matches routes, their parameters, and says which methods a known path takes', () => {
  const routes = [
    route('GET', '/x/{id}', async () => ({ status: 200, body: null })),
    route('POST', '/x/{id}/cancel', async () => ({ status: 200, body: null })),
  ];
  expect(matchRoute(routes, 'GET', '/x/a%20b')).toMatchObject({ kind: 'found', params: { id: 'a b' } });
  expect(matchRoute(routes, 'POST', '/x/a')).toEqual({ kind: 'wrong_method', allow: ['GET'] });
  expect(matchRoute(routes, 'GET', '/y')).toEqual({ kind: 'not_found' });
  // A malformed escape is the caller's mistake (400), not a failing backing service (decodeURIComponent throws).
  expect(matchRoute(routes, 'GET', '/x/%E0%A4%A')).toEqual({ kind: 'bad_escape', key: 'id' });
  expect(matchRoute(routes, 'POST', '/x/%/cancel')).toEqual({ kind: 'bad_escape', key: 'id' });
});

it('round-trips its page tokens and refuses one it did not make', () => {
  const at = new Date('2026-11-28T12:00:00Z');
  expect(readPageToken(pageToken({ call_id: 'c1', job_id: 'j', status: 'running', registered_at: at }))).toEqual({
    registeredAt: at,
    callId: 'c1',
  });
  expect(() => readPageToken('bm9wZQ')).toThrow(HttpError);
});

function commands(overrides: { modalControlUrl?: string; answer?: number } = {}) {
  const jobs = new Map<string, JobDoc>([
    ['j1', { status: 'running', batch_id: 'b1' }],
    ['j2', { status: 'completed' }],
  ]);
  const executions = new Map<string, ExecutionDoc>([
    ['c1', { call_id: 'c1', job_id: 'j1', batch_id: 'b1', status: 'running' }],
    ['c2', { call_id: 'c2', job_id: 'j2', status: 'completed' }],
  ]);
  const store = {
    getExecution: async (id: string) => executions.get(id),
    getJob: async (id: string) => jobs.get(id),
    applyToJob: async (id: string, decide: (j: JobDoc | undefined) => ReturnType<typeof planCancel>) => {
      const plan = decide(jobs.get(id));
      if (plan.kind === 'apply') jobs.set(id, { ...jobs.get(id), ...plan.update });
      return plan;
    },
  } as unknown as AdminStore;
  const published: Array<Record<string, string>> = [];
  const completions: Publisher = { topic: 't', publish: async (_d, a) => (published.push(a), '1') };
  const forwarded: unknown[] = [];
  const fakeFetch = (async (_url: string, init: RequestInit) => {
    forwarded.push(JSON.parse(init.body as string));
    return new Response('{}', { status: overrides.answer ?? 200 });
  }) as typeof fetch;
  const config = loadAdminConfig({
    MODAL_WEBHOOK_SECRET: 'a-long-enough-secret-value',
    ...(overrides.modalControlUrl ? { MODAL_CONTROL_URL: overrides.modalControlUrl } : {}),
  });
  const modal = createModalClient({
    secret: config.secret,
    fetch: fakeFetch,
    clock: () => new Date(),
    userAgent: 'test',
  });
  const routes = createCommandRoutes('/api', {
    config,
    store,
    completions,
    modal,
    clock: () => new Date(),
    logger: memoryLogger(),
  });
  const call = (method: string, path: string, body: unknown = {}) => {
    const match = matchRoute(routes, method, path);
    if (match.kind !== 'found') throw new Error(match.kind);
    return match.route.handle({ body, query: {} } as Request, match.params);
  };
  return { call, jobs, published, forwarded };
}

it('cancels once: the job becomes cancelled, its batch is checked, and Modal is asked once', async () => {
  const c = commands({ modalControlUrl: 'https://control.example' });
  expect(await c.call('POST', '/api/executions/c1/cancel', { reason: 'user request' })).toMatchObject({
    status: 200,
    body: { status: 'cancelled', modal: { forwarded: true } },
  });
  expect(c.jobs.get('j1')).toMatchObject({ status: 'cancelled', cancel_reason: 'user request' });
  expect(c.published).toEqual([expect.objectContaining({ kind: 'batch_check', batch_id: 'b1' })]);
  expect(await c.call('POST', '/api/executions/c1/cancel')).toMatchObject({
    body: { status: 'already_cancelled', modal: { forwarded: false } },
  });
  expect(c.forwarded).toEqual([{ call_id: 'c1', job_id: 'j1', reason: 'user request' }]);
});

it('answers 409 for a finished job, 404 for an unknown call, and says plainly when Modal is not told', async () => {
  const c = commands();
  await expect(c.call('POST', '/api/executions/c2/cancel')).rejects.toMatchObject({
    status: 409,
    code: 'already_terminal',
    details: { fields: { job_status: 'completed' } },
  });
  await expect(c.call('POST', '/api/executions/nope/cancel')).rejects.toMatchObject({
    status: 404,
    code: 'execution_not_found',
  });
  expect(await c.call('POST', '/api/executions/c1/cancel')).toMatchObject({
    body: { modal: { forwarded: false, note: expect.stringContaining('MODAL_CONTROL_URL is not set') } },
  });
});

it('refuses a batch registration whose sizes disagree, with the failing field', async () => {
  const c = commands();
  await expect(
    c.call('POST', '/api/batches', { batch_id: 'b', job_ids: ['a', 'b'], total_jobs: 3 }),
  ).rejects.toMatchObject({ status: 422, code: 'invalid_request', details: { issues: [{ path: 'total_jobs' }] } });
});
