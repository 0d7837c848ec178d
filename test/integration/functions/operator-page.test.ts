/**
 * The operator page in a real browser — Debian's chromium driven by playwright-core — against the
 * whole local stack as `npm start` runs it (the four functions from dist/, the emulators, the
 * dead-letter mirror), with a stand-in Modal control endpoint for cancels. Screenshots go to
 * OPERATOR_PAGE_SCREENSHOTS (default .data/screenshots; docs/images holds a run's).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createPubSub } from '../../../shared/adapters/pubsub';
import { createFirestoreJobStore } from '../../../shared/adapters/firestore';
import { loadAdminConfig } from '../../../shared/config/config';
import { encodeCompletion } from '../../../shared/contract/messages';
import { deliveryId } from '../../../shared/contract/delivery';
import { completionPayloadSchema } from '../../../shared/contract/schemas';
import { startLocalStack, projectRoot, type LocalStack } from '../../../scripts/local/local-stack';
import { fakeModalControl } from '../../support/fake-modal-control';
import { failurePayload, successPayload } from '../../support/fixtures';
import { ADMIN_POST_HEADERS, postSigned } from '../../support/http';
import { until, untilLogged } from '../../support/until';
import { emulatorFirestore } from '../../support/worker';

jest.setTimeout(180_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const browserHere = existsSync(CHROMIUM);
if (!browserHere)
  process.stdout.write(
    `SKIPPED operator page browser tests: no browser at ${CHROMIUM} (.ci/run installs Debian's chromium; or set CHROMIUM_PATH)\n`,
  );
const suite = browserHere ? describe : describe.skip;

const SECRET = 'operator-page-secret-0123456789abcdef';
const MARKUP = '<img src=x onerror="window.__pwned=1">';
const run = randomBytes(3).toString('hex');
const id = (name: string) => `${name}-${run}`;
const screenshots = process.env.OPERATOR_PAGE_SCREENSHOTS ?? join(projectRoot(), '.data', 'screenshots');

suite('the operator page', () => {
  let stack: LocalStack;
  let control: Awaited<ReturnType<typeof fakeModalControl>>;
  let browser: Browser;
  let db: Firestore;
  const logs: Array<{ service: string; entry: Record<string, unknown> }> = [];
  const collectionsOf = () => loadAdminConfig(stack.env).collections;

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await fetch(`${stack.adminUrl}/api/v3/webhooks${path}`, {
      method,
      headers: method === 'POST' ? ADMIN_POST_HEADERS : {},
      ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
    });
    return { status: res.status, json: await res.json() };
  };
  const send = async (payload: unknown) => {
    const res = await postSigned(stack.webhookUrl, JSON.stringify(payload), { secret: SECRET });
    expect(res.status).toBe(202);
  };

  /** A fresh tab on `hash`, once the view has drawn; page errors fail the test. */
  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    page.on('pageerror', (err) => {
      throw err;
    });
    await page.goto(`${stack.adminUrl}/ui/${hash}`);
    await page.waitForFunction(() => document.body.dataset.updated !== undefined, null, { timeout: 15_000 });
    return page;
  }
  const shoot = (page: Page, name: string) =>
    page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    control = await fakeModalControl(SECRET);
    stack = await startLocalStack({
      projectId: process.env.GOOGLE_CLOUD_PROJECT!,
      secret: SECRET,
      completionsTopic: `page-completions-${run}`,
      batchEventsTopic: `page-batch-events-${run}`,
      env: {
        JOBS_COLLECTION: `page_jobs_${run}`,
        BATCHES_COLLECTION: `page_batches_${run}`,
        PIPELINE_COLLECTION_PREFIX: `page_${run}_`,
        MODAL_CONTROL_URL: control.url,
      },
      onLog: (service, line) => {
        try {
          logs.push({ service, entry: JSON.parse(line) as Record<string, unknown> });
        } catch {
          // not a log entry
        }
      },
    });
    db = emulatorFirestore();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    control?.server.close();
  });

  it("shows a running batch's progress advancing as signed completions arrive", async () => {
    const batch = id('batch-live');
    expect((await api('POST', '/batches', { batch_id: batch, total_jobs: 4 })).status).toBe(201);
    const page = await open(`#/batches/${batch}`);
    const progress = page.getByRole('progressbar');
    await expect(progress.getAttribute('aria-label')).resolves.toBe('0 completed, 0 failed, 4 pending of 4');

    await send(successPayload({ call_id: id('c1'), job_id: id('j1'), batch_id: batch }, { affinity: 0.7 }));
    await send(successPayload({ call_id: id('c2'), job_id: id('j2'), batch_id: batch }, { affinity: 0.4 }));
    await page.waitForFunction(
      () => document.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow') === '2',
      null,
      { timeout: 30_000 },
    );
    await shoot(page, 'operator-batch-running');

    await send(successPayload({ call_id: id('c3'), job_id: id('j3'), batch_id: batch }, { affinity: 0.9 }));
    await send({
      ...failurePayload({ call_id: id('c4'), job_id: id('j4'), batch_id: batch }),
      error: { message: MARKUP, type: 'RuntimeError' },
    });
    await page.getByText('3 completed, 1 failed, 0 pending of 4').waitFor({ timeout: 30_000 });
    await page.getByRole('heading', { name: 'Summary' }).waitFor({ timeout: 30_000 });
    const ranking = page.getByRole('table', { name: 'Ranking' });
    await expect(ranking.getByRole('row').nth(1).textContent()).resolves.toContain(id('j3'));
    await shoot(page, 'operator-batch-completed');

    // The error message holding markup is shown as its text, and ran nothing.
    await page.getByText(MARKUP).waitFor();
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    const list = await open('#/batches?status=completed');
    await list.getByRole('link', { name: batch }).waitFor();
    await shoot(list, 'operator-batches');
  });

  it('replays a dead letter from the page after a confirmation, and shows it applied', async () => {
    // A completion Pub/Sub gave up on, as it forwards one to the dead-letter topic: the mirror
    // subscription brings it to the worker, which records it where the page reads.
    const payload = successPayload({ call_id: id('c-dead'), job_id: id('j-dead') }, { affinity: 0.5 });
    const parsed = completionPayloadSchema.parse(payload);
    const message = encodeCompletion(Buffer.from(JSON.stringify(payload)), parsed, {
      deliveryId: deliveryId(parsed.call_id, parsed.status),
      receivedAt: new Date(),
      source: 'webhook',
    });
    const pubsub = createPubSub(stack.projectId);
    await pubsub.topic(`${stack.completionsTopic}-dead-letter`).publishMessage({
      data: message.data,
      attributes: {
        ...message.attributes,
        CloudPubSubDeadLetterSourceSubscription: 'page-test',
        CloudPubSubDeadLetterSourceDeliveryCount: '10',
      },
    });
    await pubsub.close();
    // A poison message whose job id holds markup: shown as text too.
    await createFirestoreJobStore(db, collectionsOf()).recordDeadLetter({
      id: id('dl-markup'),
      code: 'unknown_message',
      reason: `unknown message kind ${MARKUP}`,
      attributes: { job_id: MARKUP },
      dataBytes: 0,
      recordedAt: new Date(Date.now() - 60_000),
    });

    const page = await open('#/dead-letters');
    const row = page.locator('tr', { hasText: id('j-dead') });
    await row.waitFor({ timeout: 30_000 });
    await expect(row.textContent()).resolves.toContain('delivery_attempts_exhausted');
    await page.getByRole('cell', { name: MARKUP, exact: true }).waitFor();
    expect(await page.locator('main img').count()).toBe(0);
    await shoot(page, 'operator-dead-letters');

    await row.getByRole('checkbox').check();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Replay selected' }).click();
    await until('the replayed completion applied', async () => {
      const job = (await db.collection(collectionsOf().jobs).doc(id('j-dead')).get()).data();
      return job?.status === 'completed' ? job : undefined;
    });
    await row.getByText('replayed: applied').waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("gives the overview: a verdict from the signals, each named, and each function's last activity", async () => {
    const page = await open('#/');
    const signals = page.getByRole('table', { name: /^Signals/ });
    await expect(signals.locator('tbody tr').count()).resolves.toBe(7);
    // The dead letter markup above is still waiting for a replay: the pipeline is not healthy.
    await expect(page.getByTestId('verdict').textContent()).resolves.toBe('degraded');
    await expect(signals.locator('tr', { hasText: 'dead letters' }).textContent()).resolves.toContain('1 waiting');
    const activity = page.getByRole('table', { name: 'Last activity' });
    await expect(activity.locator('tr', { hasText: 'worker' }).textContent()).resolves.toMatch(/\d+ s ago/);
    await shoot(page, 'operator-overview');
  });

  it('cancels an active execution from the page, and the cancel reaches Modal', async () => {
    const callId = id('call-cancel');
    await api('POST', '/executions', { call_id: callId, job_id: id('job-cancel'), app: 'omtx-boltz2' });
    const page = await open('#/executions');
    await page.locator('tr', { hasText: callId }).waitFor();
    await shoot(page, 'operator-executions');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: `Cancel ${callId}` }).click();
    const call = await until('the cancel at the stand-in Modal', async () =>
      control.calls.find((c) => c.path.includes(callId) || JSON.stringify(c.body).includes(callId)),
    );
    expect(call.signatureOk).toBe(true);
    await until('the job cancelled', async () =>
      (await api('GET', `/jobs/${id('job-cancel')}`)).json.status === 'cancelled' ? true : undefined,
    );
  });

  describe('refuses cross-site requests', () => {
    let evil: Server;
    let evilUrl = '';
    const callId = id('call-target');

    beforeAll(async () => {
      await api('POST', '/executions', { call_id: callId, job_id: id('job-target') });
      const target = `${stack.adminUrl}/api/v3/webhooks/executions/${callId}/cancel`;
      const pages: Record<string, string> = {
        '/fetch': `<script>Promise.allSettled([
            fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors' }),
            fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', body: '{"reason":"x"}' }),
          ]).then(() => { document.title = 'sent'; });</script>`,
        '/form': `<form method="POST" action=${JSON.stringify(target)}><input name="reason" value="x"></form>
          <script>document.forms[0].submit();</script>`,
        '/empty-form': `<form method="POST" action=${JSON.stringify(target)}></form><script>document.forms[0].submit();</script>`,
      };
      evil = createServer((req, res) =>
        res.writeHead(200, { 'content-type': 'text/html' }).end(pages[req.url ?? ''] ?? ''),
      );
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
    });
    afterAll(() => evil?.close());

    it('with a form body or with none, and changes nothing', async () => {
      const refusedBefore = logs.filter(
        (l) => l.entry.event === 'adminRejected' && l.entry.code === 'cross_site_refused',
      );
      const page = await browser.newPage();
      await page.goto(`${evilUrl}/fetch`);
      await page.waitForFunction(() => document.title === 'sent', null, { timeout: 15_000 });
      await page.goto(`${evilUrl}/form`, { waitUntil: 'commit' });
      await page.waitForURL(/\/cancel$/, { timeout: 15_000 });
      await page.goto(`${evilUrl}/empty-form`, { waitUntil: 'commit' });
      await page.waitForURL(/\/cancel$/, { timeout: 15_000 });
      await untilLogged(
        'four cross-site refusals',
        logs,
        (l) => l.service === 'admin' && l.entry.event === 'adminRejected' && l.entry.code === 'cross_site_refused',
        refusedBefore.length + 4,
      );
      expect((await api('GET', `/executions/${callId}`)).json.status).toBe('running');
      expect(control.calls.filter((c) => JSON.stringify(c).includes(callId))).toEqual([]);
    });
  });

  it('draws 50 batches and 200 dead letters with bounded reads, and prints what it costs', async () => {
    const store = createFirestoreJobStore(db, collectionsOf());
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api('POST', '/batches', { batch_id: id(`bulk-${String(i).padStart(2, '0')}`), total_jobs: 100 + i }),
      ),
    );
    for (let i = 0; i < 200; i++)
      await store.recordDeadLetter({
        id: id(`bulk-dl-${i}`),
        code: 'invalid_payload',
        reason: `payload ${i} is invalid`,
        attributes: { job_id: id(`bulk-job-${i}`), delivery_id: `dlv_${i}` },
        dataBase64: Buffer.from('{}').toString('base64'),
        dataBytes: 2,
        recordedAt: new Date(Date.now() - i * 1000),
      });
    const figures: string[] = [];
    for (const [hash, rows, label] of [
      ['#/batches?status=running', 20, 'batches (running, first page of 20 of 50+)'],
      ['#/dead-letters', 50, 'dead letters (first page of 50 of 200+)'],
    ] as const) {
      const started = Date.now();
      const page = await open(hash);
      const loaded = Date.now() - started;
      const drawn = await page.locator('main tbody tr').count();
      expect(drawn).toBe(rows);
      const viewMs = await page.evaluate(() => document.body.dataset.viewMs);
      const drawnMs = await page.evaluate(() => document.body.dataset.drawnMs);
      const api = await page.evaluate(() =>
        performance
          .getEntriesByType('resource')
          .filter((e) => e.name.includes('/api/'))
          .map((e) => e.duration)
          .reduce((a, b) => Math.max(a, b), 0),
      );
      figures.push(
        `${label}: drawn ${drawnMs} ms after navigation began (${loaded} ms on the test's clock, opening a tab included); view ${viewMs} ms, its slowest API read ${api.toFixed(0)} ms`,
      );
      await page.close();
    }
    process.stdout.write(`operator page with 50 batches and 200 dead letters:\n  ${figures.join('\n  ')}\n`);
  });
});
