/**
 * The webhook's byte budget against what holds it, through the real Functions Framework with the
 * deployed defaults (docs/security.md): connections that declare 32 MiB and send nothing, or drip,
 * hold none of it and are let go within seconds, while signed 1.3 MB completions keep being
 * accepted; and a stalled Cloud Storage keeps no more bodies than the budget, which comes back once
 * its uploads give up.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createPubSub, createPubSubAdmin } from '../../../shared/adapters/pubsub';
import { sign } from '../../../shared/contract/signature';
import { freePort } from '../../../scripts/local/ports';
import { serveFunction, waitForPort, type ServedFunction } from '../../../scripts/local/serve-function';
import { startGcsTestServer, type GcsTestServer } from '../../support/gcs-server';
import { rawRequest, requestHead } from '../../support/http';
import { until, untilLogged } from '../../support/until';

jest.setTimeout(180_000);

const secret = 'budget-test-secret-0123456789abcdef';
const root = join(__dirname, '..', '..', '..');
const MiB = 1024 * 1024;

interface Webhook {
  fn: ServedFunction;
  port: number;
  logs: Array<Record<string, unknown>>;
}

async function serveWebhook(env: Record<string, string>): Promise<Webhook> {
  const port = await freePort();
  const logs: Array<Record<string, unknown>> = [];
  const fn = serveFunction(
    'modalWebhook',
    'http',
    port,
    { MODAL_WEBHOOK_SECRET: secret, METADATA_SERVER_DETECTION: 'none', BIND_HOST: '127.0.0.1', ...env },
    (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ text: line });
      }
    },
  );
  await waitForPort(port, fn.child, fn.output);
  return { fn, port, logs };
}

const status = (w: Webhook) => readFileSync(`/proc/${w.fn.child.pid}/status`, 'utf8');
const rssMiB = (w: Webhook) => Number(/VmRSS:\s+(\d+)/.exec(status(w))?.[1] ?? 0) / 1024;
const peakMiB = (w: Webhook) => Number(/VmHWM:\s+(\d+)/.exec(status(w))?.[1] ?? 0) / 1024;
const resetPeak = (w: Webhook) => writeFileSync(`/proc/${w.fn.child.pid}/clear_refs`, '5');

/** A signed completion of about `bytes`, its own call each time (the same signed body again is a replay). */
function completion(bytes: number): { body: Buffer; headers: Record<string, string | number> } {
  const id = randomBytes(6).toString('hex');
  const text = JSON.stringify({
    call_id: `budget-${id}`,
    status: 'success',
    result: { affinity: 0.5, structure_file_base64: Buffer.alloc(Math.floor((bytes * 3) / 4), 7).toString('base64') },
    metadata: { job_id: `budget-${id}` },
  });
  return {
    body: Buffer.from(text),
    headers: {
      'content-type': 'application/json',
      'x-modal-signature': sign(secret, text),
      'x-modal-timestamp': Math.floor(Date.now() / 1000),
      'content-length': Buffer.byteLength(text),
    },
  };
}

/** Sends `n` signed completions of `bytes` at once; their statuses (0: the connection dropped). */
async function sendCompletions(w: Webhook, n: number, bytes: number): Promise<number[]> {
  const answers = await Promise.all(
    Array.from({ length: n }, () => {
      const c = completion(bytes);
      return rawRequest(w.port, requestHead(c.headers), c.body);
    }),
  );
  return answers.map((a) => a.status);
}

/** A connection that declares `declared` bytes, then sends nothing or drips `dripPerSecond`; when it ended. */
interface Holder {
  socket: Socket;
  ended: Promise<{ afterMs: number; status: number }>;
}

function hold(w: Webhook, declared: number, dripPerSecond = 0): Holder {
  const started = Date.now();
  const socket = connect(w.port, '127.0.0.1');
  let text = '';
  let drip: NodeJS.Timeout | undefined;
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write(requestHead({ ...completion(16).headers, 'content-length': declared }));
  if (dripPerSecond) drip = setInterval(() => socket.write(Buffer.alloc(dripPerSecond / 10, 0x20)), 100);
  const ended = new Promise<{ afterMs: number; status: number }>((resolve) =>
    socket.once('close', () => {
      clearInterval(drip);
      resolve({ afterMs: Date.now() - started, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) });
    }),
  );
  return { socket, ended };
}

describe('with the deployed limits (DRY_RUN)', () => {
  let w: Webhook;
  beforeAll(async () => (w = await serveWebhook({ DRY_RUN: 'true', GOOGLE_CLOUD_PROJECT: 'demo-omtx-test' })));
  afterAll(() => w.fn.stop());

  // First, in a fresh process: the cost is the holders' and the completions' own.
  it('holds 80 connections that declare 32 MiB, idle or dripping, for under 64 MiB, accepting completions meanwhile, then a 30 MB body', async () => {
    const before = rssMiB(w);
    resetPeak(w);
    const holders = Array.from({ length: 80 }, (_, i) => hold(w, 32 * MiB, i % 2 ? 100 : 0));
    await new Promise((r) => setTimeout(r, 2000));
    const holding = peakMiB(w) - before;
    expect(await sendCompletions(w, 10, 1.3 * MiB)).toEqual(Array(10).fill(200));
    const ended = await Promise.all(holders.map((h) => h.ended));
    expect(Math.max(...ended.map((e) => e.afterMs))).toBeLessThan(15_000);
    const cost = peakMiB(w) - before;
    process.stdout.write(
      `80 holders: peak RSS +${holding.toFixed(1)} MiB; with 10 × 1.3 MB completions meanwhile +${cost.toFixed(1)} MiB\n`,
    );
    expect(holding).toBeLessThan(64);
    // Nothing of the budget leaked: the largest body still fits.
    expect(await sendCompletions(w, 1, 30 * 1000 * 1000)).toEqual([200]);
    await untilLogged('80 idle or slow refusals', w.logs, (l) => l.code === 'request_timeout', 80);
  });
  it.each([
    ['6 connections that declare 32 MiB and send nothing', 6, 0],
    ['6 connections that declare 32 MiB and drip 100 bytes a second', 6, 100],
  ])('accepts every signed 1.3 MB completion while %s', async (_what, n, drip) => {
    const holders = Array.from({ length: n }, () => hold(w, 32 * MiB, drip));
    await new Promise((r) => setTimeout(r, 500));
    expect(await sendCompletions(w, 10, 1.3 * MiB)).toEqual(Array(10).fill(200));
    // …and lets every holder go within 15 s.
    const ended = await Promise.all(holders.map((h) => h.ended));
    for (const e of ended) expect(e.afterMs).toBeLessThan(15_000);
    expect(ended.map((e) => e.status)).toEqual(Array(n).fill(408));
  });
});

describe('npm run probe-edge (the probe docs/security.md gives for a deployment)', () => {
  let w: Webhook;
  beforeAll(async () => (w = await serveWebhook({ DRY_RUN: 'true', GOOGLE_CLOUD_PROJECT: 'demo-omtx-test' })));
  afterAll(() => w.fn.stop());

  it('finds that the webhook itself lets its holders go, and that completions got through', async () => {
    const child = spawn(
      process.execPath,
      [
        join(root, 'dist', 'scripts', 'tools', 'probe-edge.js'),
        '--url',
        `http://127.0.0.1:${w.port}/api/v3/webhooks/modal/completion`,
        '--secret-from',
        'env:PROBE_SECRET',
        '--holders',
        '6',
        '--completions',
        '4',
        '--seconds',
        '20',
      ],
      { env: { ...process.env, PROBE_SECRET: secret } },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    expect(out).toMatch(
      /holders: 6; answered by the webhook \(408\) after [\d.]+–[\d.]+ s: 6; closed otherwise: 0; still open: 0/,
    );
    expect(out).toContain('completions: 4/4 accepted (4×200)');
    expect(out).toContain('verdict: the front end streams bodies to the instance');
  });
});

describe('with Cloud Storage stalled (claim checks at 1 MiB, an 8 MiB budget)', () => {
  let w: Webhook;
  let gcs: GcsTestServer;
  const topic = `budget-${randomBytes(3).toString('hex')}`;
  const pubsub = createPubSub(process.env.GOOGLE_CLOUD_PROJECT);

  beforeAll(async () => {
    gcs = await startGcsTestServer();
    await createPubSubAdmin(pubsub).ensureTopic(topic);
    w = await serveWebhook({
      COMPLETIONS_TOPIC: topic,
      RESULTS_BUCKET: 'omtx-budget-test',
      STORAGE_EMULATOR_HOST: gcs.url,
      CLAIM_CHECK_THRESHOLD_BYTES: String(MiB),
      BODY_BUDGET_BYTES: String(8 * MiB),
      PUBLISH_TIMEOUT_MS: '1500',
    });
  });
  afterAll(async () => {
    await w.fn.stop();
    await gcs.close();
    await pubsub.close();
  });

  it('keeps no more bodies than the budget while uploads hang, answers every attempt, and recovers when they give up', async () => {
    gcs.stalled = true;
    const before = rssMiB(w);
    resetPeak(w);
    // Twelve senders of 3 MiB completions retrying for 8 s, as senders do through a brownout.
    const statuses: number[] = [];
    const deadline = Date.now() + 8000;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (Date.now() < deadline) {
          const [s] = await sendCompletions(w, 1, 3 * MiB);
          statuses.push(s!);
          await new Promise((r) => setTimeout(r, 500));
        }
      }),
    );
    const cost = peakMiB(w) - before;
    process.stdout.write(
      `stalled store: ${statuses.length} attempts of 3 MiB (${statuses.filter((s) => s === 503).length} × 503), at most ${gcs.maxHanging} uploads hanging at once, peak RSS +${cost.toFixed(1)} MiB\n`,
    );
    expect(statuses.filter((s) => s !== 503)).toEqual([]);
    // A hanging upload holds its body: never more of them than the budget (8 MiB, and the first
    // MiB of a body, which is always read) can hold at 3 MiB each.
    expect(gcs.maxHanging).toBeGreaterThan(0);
    expect(gcs.maxHanging).toBeLessThanOrEqual(3);
    const overloaded = w.logs.filter((l) => l.code === 'overloaded');
    expect(overloaded.length).toBeGreaterThan(0);
    // What the budget counts: at most itself, plus the first MiB of each of the twelve bodies in flight.
    for (const l of overloaded) expect(Number(l.budget_held_bytes)).toBeLessThanOrEqual(8 * MiB + 12 * MiB);

    // The hung uploads give up (the client's per-request timeout): the budget comes back.
    gcs.stalled = false;
    await until(
      'a 3 MiB completion accepted once the store answers',
      async () => ((await sendCompletions(w, 1, 3 * MiB))[0] === 202 ? true : undefined),
      20_000,
    );
  });
});
