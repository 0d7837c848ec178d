/**
 * `npm run probe-edge -- [options]`: what idle connections cost a webhook, measured from outside —
 * the probe of docs/security.md for a scratch deployment (or the local stack). It holds connections
 * that declare a 32 MiB body and send nothing (or drip), sends signed 1.3 MB test deliveries
 * meanwhile (the worker only records a test delivery; no job changes), and says whether the holders
 * reached the instance (the webhook answers them 408 within seconds) or were held by a front end
 * that buffers bodies, and whether the completions got through. See USAGE.
 */
import { randomBytes } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { parseArgs } from 'node:util';
import { sign } from '../../shared/contract/signature';
import { parseSecretSpec } from '../../shared/modal/secret-source';
import { readLocalState } from '../local/local-state';
import { readSecret } from './read-secret';

const USAGE = `usage: npm run probe-edge -- [options]

Holds connections that declare a 32 MiB body and send nothing (or drip), sends signed 1.3 MB test
deliveries meanwhile, and reports what became of both.

  --url URL            the webhook's completion URL (default: the running npm start's)
  --secret-from SPEC   env:NAME, file:/path or gcloud:PROJECT/SECRET/VERSION
                       (default: the running npm start's)
  --holders N          connections to hold (default 80)
  --drip BYTES         bytes a second each holder sends (default 0: nothing)
  --completions N      signed 1.3 MB test deliveries sent meanwhile (default 10)
  --seconds S          how long to wait for the holders to be let go (default 60)
  --help               this text
`;

const DECLARED = 32 * 1024 * 1024;

export interface HolderOutcome {
  /** The status the server answered with; 0: closed without one, or still open when the probe ended. */
  status: number;
  /** Milliseconds from connecting until the answer or the close. */
  afterMs: number;
  /** The answer was the webhook's own JSON refusal (the instance saw the connection). */
  fromWebhook: boolean;
  stillOpen: boolean;
}

/** The report: one line for the holders, one for the completions, one verdict. Pure. */
export function summarizeProbe(holders: readonly HolderOutcome[], completions: readonly number[]): string[] {
  const byWebhook = holders.filter((h) => h.fromWebhook);
  const times = byWebhook.map((h) => h.afterMs / 1000);
  const open = holders.filter((h) => h.stillOpen).length;
  const other = holders.length - byWebhook.length - open;
  const counts = new Map<number, number>();
  for (const s of completions) counts.set(s, (counts.get(s) ?? 0) + 1);
  const accepted = completions.filter((s) => s === 200 || s === 202).length;
  const range = times.length ? `${Math.min(...times).toFixed(1)}–${Math.max(...times).toFixed(1)} s` : '—';
  const verdict =
    byWebhook.length === holders.length
      ? 'the front end streams bodies to the instance: the webhook itself let every holder go'
      : byWebhook.length === 0
        ? 'no holder reached the webhook: the front end holds or buffers bodies before the instance sees them'
        : 'some holders reached the webhook and some did not: look at the front end';
  return [
    `holders: ${holders.length}; answered by the webhook (408) after ${range}: ${byWebhook.length}; closed otherwise: ${other}; still open: ${open}`,
    `completions: ${accepted}/${completions.length} accepted (${[...counts].map(([s, c]) => `${c}×${s || 'dropped'}`).join(' ')})`,
    `verdict: ${verdict}; ${accepted === completions.length ? 'completions got through' : 'completions were refused meanwhile'}`,
  ];
}

function open(url: URL): Socket {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return url.protocol === 'https:'
    ? connectTls({ host: url.hostname, port, servername: url.hostname })
    : connectTcp(port, url.hostname);
}

/** One connection that declares 32 MiB and sends nothing, or `drip` bytes a second. */
function hold(url: URL, drip: number, waitMs: number): Promise<HolderOutcome> {
  const started = Date.now();
  const socket = open(url);
  let text = '';
  const head = [
    `POST ${url.pathname} HTTP/1.1`,
    `Host: ${url.host}`,
    'Content-Type: application/json',
    `Content-Length: ${DECLARED}`,
    '',
    '',
  ].join('\r\n');
  socket.write(head);
  const timer = drip ? setInterval(() => socket.write(Buffer.alloc(Math.max(1, drip / 10), 0x20)), 100) : undefined;
  return new Promise((resolve) => {
    const done = (stillOpen: boolean) => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, afterMs: Date.now() - started, fromWebhook: text.includes('"request_timeout"'), stillOpen });
    };
    const limit = setTimeout(() => done(true), waitMs);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('close', () => done(false));
  });
}

/** A signed test delivery of about 1.3 MB: the worker records it as a test, no job changes. */
async function sendCompletion(url: URL, secret: string): Promise<number> {
  const id = randomBytes(6).toString('hex');
  const body = JSON.stringify({
    call_id: `probe-call-${id}`,
    status: 'success',
    result: { affinity: 0, structure_file_base64: Buffer.alloc(1_000_000, 1).toString('base64') },
    metadata: { job_id: `probe-job-${id}`, test: true },
  });
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-modal-signature': sign(secret, body),
      'x-modal-timestamp': String(Math.floor(Date.now() / 1000)),
    },
    body,
  }).catch(() => undefined);
  await res?.arrayBuffer();
  return res?.status ?? 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'secret-from': { type: 'string' },
      holders: { type: 'string', default: '80' },
      drip: { type: 'string', default: '0' },
      completions: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '60' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(USAGE);
  const state = readLocalState();
  const url = new URL(values.url ?? state?.webhookUrl ?? 'http://127.0.0.1:8080/api/v3/webhooks/modal/completion');
  const source = parseSecretSpec(values['secret-from'] ?? state?.secretFrom ?? '');
  if (!source) throw new Error('--secret-from: use env:NAME, file:/absolute/path or gcloud:PROJECT/SECRET/VERSION');
  const secret = readSecret(source);
  process.stdout.write(`probing ${url.origin}: ${values.holders} holders, then ${values.completions} completions\n`);
  const holders = Array.from({ length: Number(values.holders) }, () =>
    hold(url, Number(values.drip), Number(values.seconds) * 1000),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const completions = await Promise.all(
    Array.from({ length: Number(values.completions) }, () => sendCompletion(url, secret)),
  );
  for (const line of summarizeProbe(await Promise.all(holders), completions)) process.stdout.write(`${line}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`probe-edge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
