/**
 * The webhook's public edge against the real Functions Framework (the version package.json pins),
 * served as Cloud Functions serves it: what an unsigned request can cost. Bodies are read by the
 * webhook's guard before the framework's parsers (docs/framework-seam.md): compressed bodies are
 * refused unread, oversized ones cut, and nothing unsigned is parsed.
 */
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { freePort } from '../../../scripts/local/ports';
import { serveFunction, waitForPort, type ServedFunction } from '../../../scripts/local/serve-function';
import { postRaw, rawRequest, requestHead } from '../../support/http';
import { untilLogged } from '../../support/until';

jest.setTimeout(120_000);

const secret = 'edge-test-secret-0123456789abcdef';
let port: number;
let webhook: ServedFunction;
const BUDGET_MIB = 40;
const logs: Array<Record<string, unknown>> = [];

/** Peak resident memory of the webhook's process since the last `resetPeak()`, in MiB. */
function peakMiB(): number {
  const status = readFileSync(`/proc/${webhook.child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Starts a new peak (Linux: 5 in clear_refs resets VmHWM to the current RSS). */
function resetPeak(): void {
  writeFileSync(`/proc/${webhook.child.pid}/clear_refs`, '5');
}

/** Resident memory of the webhook's process, in MiB. */
function rssMiB(): number {
  const status = readFileSync(`/proc/${webhook.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * Writes `head` and all of `body` but its last `tailBytes`, reading nothing, as a one-thread sender
 * that writes before it reads; `finish()` writes the rest, then reads the answer (status 0: the
 * connection was cut before one arrived).
 */
function sendHeldBack(to: number, head: string, body: Buffer, tailBytes: number) {
  const socket = connect(to, '127.0.0.1');
  socket.pause();
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(head);
  socket.write(body.subarray(0, body.length - tailBytes));
  const answered = () => /^HTTP\/1\.1 \d{3}[^]*?\r\n\r\n/.test(text);
  return {
    async finish(): Promise<{ status: number; text: string }> {
      await new Promise<void>((resolve) => socket.write(body.subarray(body.length - tailBytes), () => resolve()));
      socket.resume();
      const deadline = Date.now() + 15_000;
      while (!answered() && !socket.destroyed && Date.now() < deadline) {
        await Promise.race([closed, new Promise((r) => setTimeout(r, 50))]);
      }
      socket.destroy();
      return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
    },
  };
}

interface Answer {
  status: number;
  json: any;
}

/** A raw POST to the webhook; status 0 when the server cut the connection before answering. */
async function post(headers: Record<string, string | number>, body: Parameters<typeof postRaw>[2]): Promise<Answer> {
  const { status, text } = await postRaw(`http://127.0.0.1:${port}/api/v3/webhooks/modal/completion`, headers, body);
  return { status, json: text ? JSON.parse(text) : null };
}

const now = () => String(Math.floor(Date.now() / 1000));
const forged = {
  'content-type': 'application/json',
  'x-modal-signature': `sha256=${'a'.repeat(64)}`,
  'x-modal-timestamp': now(),
};

beforeAll(async () => {
  port = await freePort();
  webhook = serveFunction(
    'modalWebhook',
    'http',
    port,
    {
      MODAL_WEBHOOK_SECRET: secret,
      DRY_RUN: 'true',
      GOOGLE_CLOUD_PROJECT: 'demo-omtx-test',
      METADATA_SERVER_DETECTION: 'none',
      BIND_HOST: '127.0.0.1',
      BODY_BUDGET_BYTES: String(BUDGET_MIB * 1024 * 1024),
    },
    (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ message: line });
      }
    },
  );
  await waitForPort(port, webhook.child, webhook.output);
});

afterAll(() => webhook.stop());

it('refuses a 657-byte brotli bomb (400 MiB inflated) with 415, without inflating it', async () => {
  const before = rssMiB();
  const bomb = brotliCompressSync(Buffer.alloc(400 * 1024 * 1024, 0x20));
  expect(bomb.length).toBeLessThan(1024);
  const answer = await post({ ...forged, 'content-encoding': 'br', 'content-length': bomb.length }, bomb);
  expect(answer).toEqual({
    status: 415,
    json: { error: 'unsupported_encoding', message: expect.stringMatching(/Content-Encoding br/) },
  });
  expect(rssMiB() - before).toBeLessThan(20);
  const [line] = await untilLogged(
    'requestRejected unsupported_encoding',
    logs,
    (l) => l.code === 'unsupported_encoding',
  );
  expect(line).toMatchObject({ event: 'requestRejected', code: 'unsupported_encoding', status: 415 });
});

it('refuses gzip too, signed or not', async () => {
  const body = gzipSync(Buffer.from('{}'));
  expect((await post({ ...forged, 'content-encoding': 'gzip' }, body)).status).toBe(415);
});

it('refuses a declared length over MAX_BODY_BYTES with 413 before reading', async () => {
  const answer = await post({ ...forged, 'content-length': 1024 * 1024 * 1024 }, Buffer.alloc(0));
  expect(answer.status).toBe(413);
  await untilLogged(
    'payload_too_large with its declared length',
    logs,
    (l) => l.code === 'payload_too_large' && l.declared_bytes === 1024 * 1024 * 1024,
  );
});

it('cuts a chunked stream at MAX_BODY_BYTES (413)', async () => {
  const before = rssMiB();
  const answer = await post(
    { ...forged, 'transfer-encoding': 'chunked' },
    { chunks: 1024, chunk: Buffer.alloc(64 * 1024, 0x20) },
  );
  expect(answer.status).toBe(413);
  await untilLogged(
    'payload_too_large of a chunked body',
    logs,
    (l) => l.code === 'payload_too_large' && l.declared_bytes === undefined,
  );
  expect(rssMiB() - before).toBeLessThan(100);
});

it('never parses an unsigned 30 MB body of ten million tiny objects: 401, memory near the body size', async () => {
  const before = rssMiB();
  const body = Buffer.from(`{"a":[${'{},'.repeat(10_000_000)}{}]}`);
  const answer = await post({ ...forged, 'content-length': body.length }, body);
  expect(answer).toMatchObject({ status: 401, json: { error: 'bad_signature' } });
  // Parsing it would take ~1 GB; holding it takes its 30 MB.
  expect(rssMiB() - before).toBeLessThan(150);
});

it('accepts a signed completion as before (the guard ran: the handler refuses a request without its mark)', async () => {
  const body = JSON.stringify({
    call_id: 'edge-c1',
    status: 'success',
    result: { affinity: 0.5 },
    metadata: { job_id: 'edge-j1' },
  });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const answer = await post(
    { 'content-type': 'application/json', 'x-modal-signature': signature, 'x-modal-timestamp': now() },
    Buffer.from(body),
  );
  expect(answer).toMatchObject({ status: 200, json: { status: 'dry_run' } });
  expect(webhook.restarts).toBe(0);
});

it('listens on loopback only when BIND_HOST says so', async () => {
  const other = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!other) {
    process.stdout.write('skipped: this machine has no non-loopback IPv4 address to try\n');
    return;
  }
  const reached = await fetch(`http://${other.address}:${port}/health`, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    () => false,
  );
  expect(reached).toBe(false);
  expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
});

describe('a refused body reaches its sender as a status, never as a dropped connection', () => {
  const url = () => `http://127.0.0.1:${port}/api/v3/webhooks/modal/completion`;

  it('answers ten 40 MiB bodies, each written in full before its answer is read, with 413 (drained, not reset)', async () => {
    const body = Buffer.alloc(40 * 1024 * 1024, 0x20);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        rawRequest(port, requestHead({ ...forged, 'content-length': body.length }), body, { readAfterWriting: true }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(413));
    // An HTTP client reading as it writes gets it too.
    expect((await postRaw(url(), { ...forged, 'content-length': body.length }, body)).status).toBe(413);
  });

  it('answers large signed completions beyond the byte budget with 503 and Retry-After, none dropped', async () => {
    // Twelve 4.9 MB completions, each held back by its last KiB, so that none can finish and give
    // its bytes back: together they overrun the 40 MiB budget whatever the machine's pace.
    const overloaded = (l: Record<string, unknown>) => l.code === 'overloaded';
    const refusedBefore = logs.filter(overloaded).length;
    const senders = Array.from({ length: 12 }, (_, i) => {
      const body = Buffer.from(
        JSON.stringify({
          call_id: `budget-${i}`,
          status: 'success',
          result: { affinity: 0.1, log: 'L'.repeat(4_900_000) },
          metadata: { job_id: `budget-${i}` },
        }),
      );
      const head = requestHead({
        'content-type': 'application/json',
        'x-modal-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
        'x-modal-timestamp': now(),
        'content-length': body.length,
      });
      return sendHeldBack(port, head, body, 1024);
    });
    // Once the budget has refused one, every sender sends its last KiB and reads its answer (the
    // held bodies have the 5 s idle limit to get it).
    await untilLogged('a requestRejected overloaded', logs, overloaded, refusedBefore + 1, 4_000);
    const answers = await Promise.all(senders.map((s) => s.finish()));
    const statuses = answers.map((a) => a.status);
    expect(answers.filter((a) => a.status === 503).every((a) => /retry-after: 2/i.test(a.text))).toBe(true);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
  });

  it('answers Expect: 100-continue with the refusal instead of 100 Continue when the headers are refused', async () => {
    const head = (extra: Record<string, string | number>) =>
      requestHead({ ...forged, expect: '100-continue', ...extra });
    const tooLarge = await rawRequest(port, head({ 'content-length': 64 * 1024 * 1024 }), undefined, {
      waitForContinueMs: 1000,
    });
    expect(tooLarge).toMatchObject({ status: 413, continued: false });
    const encoded = await rawRequest(
      port,
      head({ 'content-length': 5, 'content-encoding': 'gzip' }),
      Buffer.from('xxxxx'),
      { waitForContinueMs: 1000 },
    );
    expect(encoded).toMatchObject({ status: 415, continued: false });
  });

  it('sends 100 Continue to a request whose headers pass, then reads and accepts its body', async () => {
    const body = JSON.stringify({
      call_id: 'edge-expect',
      status: 'success',
      result: { affinity: 0.5 },
      metadata: { job_id: 'edge-expect' },
    });
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const head = requestHead({
      'content-type': 'application/json',
      'x-modal-signature': signature,
      'x-modal-timestamp': now(),
      expect: '100-continue',
      'content-length': body.length,
    });
    // The body goes only after 100 Continue arrives or 3 s pass (as curl does, after 1 s).
    const answer = await rawRequest(port, head, Buffer.from(body), { waitForContinueMs: 300 });
    expect(answer).toMatchObject({ status: 200, continued: true });
    expect(answer.text.indexOf('100 Continue')).toBeLessThan(answer.text.indexOf('200 OK'));
  });
});

describe('a body sent in one-byte chunks costs its bytes, not its chunks', () => {
  it('refuses 8 never-ending streams of 150,000 one-byte chunks with 400, and they cost under 48 MiB', async () => {
    // 150,000 chunks of one byte each, pre-encoded: under 1 MiB on the wire, never finished.
    const chunks = Buffer.from('1\r\nx\r\n'.repeat(150_000));
    const head = requestHead({ ...forged, 'transfer-encoding': 'chunked' });
    const before = rssMiB();
    resetPeak();
    const answers = await Promise.all(Array.from({ length: 8 }, () => rawRequest(port, head, chunks)));
    const cost = peakMiB() - before;
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(400));
    expect(answers[0]!.text).toMatch(/too many small chunks/);
    expect(cost).toBeLessThan(48);
    await untilLogged(
      '8 refusals of small chunks',
      logs,
      (l) => l.code === 'invalid_body' && /small chunks/.test(String(l.message)),
      8,
    );
  });
});
