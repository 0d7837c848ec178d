/**
 * `npm run send-webhook -- [options]`: signs and sends a completion the way Modal does, to a local
 * or deployed webhook, and prints the response.
 *
 *   --url URL          webhook URL (default http://localhost:8080/api/v3/webhooks/modal/completion)
 *   --file PATH        JSON payload to send (default: the seed's sample success payload)
 *   --call-id/--job-id/--batch-id/--status   override those fields of the payload
 *   --skew SECONDS     shift X-Modal-Timestamp (e.g. -600 to see a stale rejection)
 *   --tamper           change the body after signing (to see a bad_signature rejection)
 *   --secret-env NAME  variable holding the secret (default MODAL_WEBHOOK_SECRET)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sign } from '../shared/signature';
import { projectRoot } from './local-stack';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:8080/api/v3/webhooks/modal/completion' },
    file: { type: 'string' },
    'call-id': { type: 'string' },
    'job-id': { type: 'string' },
    'batch-id': { type: 'string' },
    status: { type: 'string' },
    skew: { type: 'string', default: '0' },
    tamper: { type: 'boolean', default: false },
    'secret-env': { type: 'string', default: 'MODAL_WEBHOOK_SECRET' },
    help: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  if (values.help) {
    process.stdout.write(readFileSync(__filename, 'utf8').split('*/')[0] + '*/\n');
    return;
  }
  const secret = process.env[values['secret-env']!]?.trim();
  if (!secret) {
    process.stderr.write(`${values['secret-env']} is not set: export the secret the webhook uses (npm start prints it).\n`);
    process.exit(2);
  }
  const file = values.file ?? join(projectRoot(), 'test', 'fixtures', 'seed-success.json');
  const payload = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
  payload.metadata ??= {};
  if (values['call-id']) payload.call_id = values['call-id'];
  if (values.status) payload.status = values.status;
  if (values['job-id']) payload.metadata.job_id = values['job-id'];
  if (values['batch-id']) payload.metadata.batch_id = values['batch-id'];
  payload.metadata.timestamp = new Date().toISOString();

  const body = JSON.stringify(payload);
  const signature = sign(secret, body);
  const sent = values.tamper ? body.replace(/"call_id":"/, '"call_id":"x') : body;
  const timestamp = Math.floor(Date.now() / 1000) + Number(values.skew);
  const started = performance.now();
  const res = await fetch(values.url!, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'Modal-Webhook/1.0',
      'X-Modal-Signature': signature,
      'X-Modal-Timestamp': String(timestamp),
    },
    body: sent,
  });
  const text = await res.text();
  const ms = (performance.now() - started).toFixed(1);
  process.stdout.write(`POST ${values.url} (call_id=${payload.call_id}, job_id=${payload.metadata.job_id}, ${Buffer.byteLength(sent)} bytes)\n`);
  process.stdout.write(`→ ${res.status} ${res.statusText} in ${ms} ms\n${text}\n`);
  if (!res.ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`send-webhook failed: ${String(err)}\n`);
  process.exit(1);
});
