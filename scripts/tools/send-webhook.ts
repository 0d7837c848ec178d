/**
 * `npm run send-webhook -- [options]`: signs and sends a completion the way Modal does, to a local
 * or deployed webhook, and prints the response. See USAGE.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAdminClient } from './admin-client';
import { randomBytes } from 'node:crypto';
import { sign, signStandard } from '../../shared/contract/signature';
import { projectRoot } from '../local/local-stack';
import { readLocalState, savedLocalSecret } from '../local/local-state';

const USAGE = `usage: npm run send-webhook -- [options]

Signs a completion as Modal does (X-Modal-Signature, X-Modal-Timestamp) and sends it.

  --url URL          webhook URL (default: the running npm start's, else
                     http://localhost:8080/api/v3/webhooks/modal/completion)
  --file PATH        JSON payload to send (default: the seed's sample success payload,
                     job job-abc123 in batch batch-xyz789, call call-123456789)
  --job-id ID        the job; without --call-id the call becomes call-<job id>, and without
                     --batch-id the job is in no batch (not the sample's batch-xyz789)
  --call-id ID       the Modal call
  --batch-id ID      the batch
  --status S         success | failure | timeout; failure and timeout send an error, no result
  --app NAME         metadata.app, the Modal app the admin's /status counts (default omtx-local)
  --scheme S         modal (X-Modal-Signature, the seed's; default) or standard (Standard
                     Webhooks: webhook-id, webhook-timestamp, webhook-signature)
  --skew SECONDS     shift the timestamp, e.g. --skew -600 (→ 401 stale_timestamp)
  --tamper           change the body after signing (→ 401 bad_signature)
  --secret-env NAME  variable holding the secret (default MODAL_WEBHOOK_SECRET; when unset,
                     the local stack's .data/secret)
  --jobs N           a whole batch to watch on the operator page: registers --batch-id
                     (default batch-demo-<time>) with N jobs through the admin API, then sends
                     N signed completions, one every --every ms (default 500), one in ten failed
  --every MS         the pause between the batch's completions
  --help             this text
`;

/**
 * `parseArgs` reads `--skew -600` as an option named -600: join a negative number to its option, so
 * that the value can be written as anyone would write it.
 */
export function joinNegativeValues(argv: string[], options: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (options.includes(arg.replace(/^--/, '')) && next !== undefined && /^-\d+(\.\d+)?$/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** A completion payload as a file gives it: the seed's fields, any others kept. */
export interface SeedPayload {
  call_id?: string;
  status?: string;
  result?: unknown;
  error?: unknown;
  metadata: { job_id?: string; batch_id?: string; app?: string; timestamp?: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** The payload to send: the file's, with the options applied. */
export function buildPayload(
  base: Partial<SeedPayload>,
  o: { jobId?: string; callId?: string; batchId?: string; status?: string; app?: string },
): SeedPayload {
  const payload = { ...structuredClone(base), metadata: { ...base.metadata } } as SeedPayload;
  if (o.jobId) {
    payload.metadata.job_id = o.jobId;
    payload.call_id = `call-${o.jobId}`;
    delete payload.metadata.batch_id;
  }
  if (o.callId) payload.call_id = o.callId;
  if (o.batchId) payload.metadata.batch_id = o.batchId;
  if (o.app) payload.metadata.app = o.app;
  if (o.status) {
    payload.status = o.status;
    if (!/success$/.test(o.status)) {
      delete payload.result;
      payload.error ??= o.status.endsWith('timeout')
        ? { message: 'Function exceeded its timeout', type: 'FunctionTimeoutError' }
        : { message: 'CUDA out of memory', type: 'RuntimeError' };
    }
  }
  payload.metadata.timestamp = new Date().toISOString();
  return payload;
}

/** The signature headers of `body` in `scheme` (a tampered body keeps the original's). */
function signedHeaders(
  scheme: 'modal' | 'standard',
  secret: string,
  body: string,
  timestamp: number,
): Record<string, string> {
  if (scheme === 'modal') return { 'X-Modal-Signature': sign(secret, body), 'X-Modal-Timestamp': String(timestamp) };
  const webhookId = `msg_${randomBytes(12).toString('hex')}`;
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandard(secret, webhookId, timestamp, body),
  };
}

/** The secret to sign with: the named variable, or for the default one the local stack's saved secret. */
function secretFrom(variable: string): string {
  const secret =
    process.env[variable]?.trim() || (variable === 'MODAL_WEBHOOK_SECRET' ? savedLocalSecret() : undefined);
  if (secret) return secret;
  process.stderr.write(
    `${variable} is not set and there is no .data/secret: run \`npm start\` (it saves one), or export the webhook's secret.\n`,
  );
  process.exit(2);
}

const OPTIONS = {
  url: { type: 'string' },
  file: { type: 'string' },
  'call-id': { type: 'string' },
  'job-id': { type: 'string' },
  'batch-id': { type: 'string' },
  status: { type: 'string' },
  app: { type: 'string', default: 'omtx-local' },
  skew: { type: 'string', default: '0' },
  scheme: { type: 'string', default: 'modal' },
  tamper: { type: 'boolean', default: false },
  'secret-env': { type: 'string', default: 'MODAL_WEBHOOK_SECRET' },
  jobs: { type: 'string' },
  every: { type: 'string', default: '500' },
  help: { type: 'boolean', default: false },
} as const;

/** The payloads of a demo batch: `jobs` completions with varied scores, one in ten failed. */
export function batchPayloads(base: Partial<SeedPayload>, batchId: string, jobs: number): SeedPayload[] {
  return Array.from({ length: jobs }, (_, i) => {
    const jobId = `${batchId}-job-${String(i + 1).padStart(3, '0')}`;
    const payload = buildPayload(base, { jobId, batchId, status: i % 10 === 9 ? 'failure' : 'success' });
    if (payload.status === 'success')
      payload.result = {
        ...(payload.result as Record<string, unknown>),
        affinity: ((i * 37) % 97) / 100,
        confidence: ((i * 53) % 89) / 100,
      };
    return payload;
  });
}

/** Registers the batch with the admin API (its total is what the page's progress bar is of), then sends its completions one by one. */
async function sendBatch(
  values: { jobs: string; every: string; 'batch-id'?: string },
  send: (payload: SeedPayload) => Promise<number>,
  base: Partial<SeedPayload>,
): Promise<void> {
  const jobs = Number(values.jobs);
  const every = Number(values.every);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 10_000 || !(every >= 0)) {
    process.stderr.write('--jobs takes 1 to 10000, --every milliseconds\n');
    process.exit(2);
  }
  const batchId = values['batch-id'] ?? `batch-demo-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
  const adminUrl = process.env.ADMIN_URL ?? readLocalState()?.adminUrl;
  if (!adminUrl) {
    process.stderr.write('--jobs registers the batch through the admin API: start `npm start`, or set ADMIN_URL\n');
    process.exit(2);
  }
  await createAdminClient(adminUrl, process.env.ADMIN_TOKEN).post('/batches', { batch_id: batchId, total_jobs: jobs });
  process.stdout.write(`batch ${batchId}: ${jobs} jobs registered; watch it at ${adminUrl}/ui/#/batches/${batchId}\n`);
  let failed = 0;
  for (const [i, payload] of batchPayloads(base, batchId, jobs).entries()) {
    const status = await send(payload);
    if (status !== 202) failed++;
    process.stdout.write(`\r${i + 1}/${jobs} sent${failed ? `, ${failed} not accepted` : ''}`);
    if (i + 1 < jobs) await new Promise((r) => setTimeout(r, every));
  }
  process.stdout.write('\n');
  if (failed) process.exitCode = 1;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: joinNegativeValues(process.argv.slice(2), ['skew']), options: OPTIONS });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const url = values.url ?? readLocalState()?.webhookUrl ?? 'http://localhost:8080/api/v3/webhooks/modal/completion';
  const secret = secretFrom(values['secret-env']);
  if (!/^-?\d+$/.test(values.skew)) {
    process.stderr.write(`--skew takes whole seconds, e.g. --skew -600\n`);
    process.exit(2);
  }
  if (values.scheme !== 'modal' && values.scheme !== 'standard') {
    process.stderr.write('--scheme is modal or standard\n');
    process.exit(2);
  }
  const scheme = values.scheme;
  const file = values.file ?? join(projectRoot(), 'test', 'fixtures', 'seed-success.json');
  const base = JSON.parse(readFileSync(file, 'utf8')) as Partial<SeedPayload>;
  const post = async (payload: SeedPayload) => {
    const body = JSON.stringify(payload);
    const sent = values.tamper ? body.replace(/"call_id":"/, '"call_id":"x') : body;
    const signatureHeaders = signedHeaders(scheme, secret, body, Math.floor(Date.now() / 1000) + Number(values.skew));
    const started = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'Modal-Webhook/1.0', ...signatureHeaders },
      body: sent,
    });
    return {
      res,
      text: await res.text(),
      ms: (performance.now() - started).toFixed(1),
      bytes: Buffer.byteLength(sent),
    };
  };
  if (values.jobs !== undefined) {
    await sendBatch({ ...values, jobs: values.jobs }, async (payload) => (await post(payload)).res.status, base);
    return;
  }
  const payload = buildPayload(base, {
    jobId: values['job-id'],
    callId: values['call-id'],
    batchId: values['batch-id'],
    status: values.status,
    app: values.app,
  });
  const { res, text, ms, bytes } = await post(payload);
  process.stdout.write(
    `POST ${url} (${scheme} signature, call_id=${payload.call_id ?? ''}, job_id=${payload.metadata.job_id ?? ''}, status=${payload.status ?? ''}, ${bytes} bytes)\n`,
  );
  process.stdout.write(`→ ${res.status} ${res.statusText} in ${ms} ms\n${text}\n`);
  if (!res.ok) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`send-webhook failed: ${String(err)}\n`);
    process.exit(1);
  });
}
