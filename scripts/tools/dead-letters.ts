/**
 * `npm run dead-letters -- list|replay`: the dead letters (completions Pub/Sub gave up on, and
 * messages the worker could never process) with their reasons, and their replay after a fix —
 * through the admin API, the one replay path the operator page uses too. Replay is a dry run unless
 * --execute is given.
 *
 *   npm run dead-letters -- list [--limit N]
 *   npm run dead-letters -- replay (--id ID ... | --all) [--execute]
 *
 * Locally it finds the running `npm start` by itself. In production: --admin-url (or ADMIN_URL)
 * is the admin's address, e.g. http://localhost:8080 behind `gcloud run services proxy`, or its
 * https URL with --token "$(gcloud auth print-identity-token)" (or ADMIN_TOKEN).
 */
import { parseArgs } from 'node:util';
import { readLocalState } from '../local/local-state';
import type { DeadLetterRecord } from '../../shared/ports';
import { createAdminClient, type AdminClient } from './admin-client';

/** A value as JSON carries it: its dates as ISO strings. */
type AsJson<T> = T extends Date ? string : T extends object ? { [K in keyof T]: AsJson<T[K]> } : T;

/** A dead letter as `GET …/dead-letters` answers it (docs/openapi.yaml `DeadLetter`). */
export type DeadLetterRow = AsJson<DeadLetterRecord> & { age_seconds: number | null };

interface ListAnswer {
  dead_letters: DeadLetterRow[];
  next_page_token: string | null;
}

/** Up to `limit` dead letters, the newest first, following pages. */
export async function listDeadLetters(admin: AdminClient, limit: number): Promise<DeadLetterRow[]> {
  const rows: DeadLetterRow[] = [];
  let token: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(200, limit - rows.length)) });
    if (token) query.set('page_token', token);
    const page: ListAnswer = await admin.get<ListAnswer>(`/dead-letters?${query}`);
    rows.push(...page.dead_letters);
    token = page.next_page_token;
  } while (token && rows.length < limit);
  return rows;
}

export interface ReplayResult {
  replayed: string[];
  skipped: Array<{ id: string; reason: string }>;
  dryRun: boolean;
}

/** The selected dead letters (or, with `all`, every one waiting), sent back in calls of at most 100. */
export async function replayDeadLetters(
  admin: AdminClient,
  selection: { ids?: string[]; all?: boolean },
  execute: boolean,
): Promise<ReplayResult> {
  const ids = selection.all
    ? (await listDeadLetters(admin, 10_000)).filter((d) => !d.replayed && d.replayable).map((d) => d.id)
    : (selection.ids ?? []);
  const result: ReplayResult = { replayed: [], skipped: [], dryRun: !execute };
  if (!execute) return { ...result, replayed: ids };
  for (let i = 0; i < ids.length; i += 100) {
    const answer = await admin.post<{ replayed: Array<{ id: string }>; skipped: ReplayResult['skipped'] }>(
      '/dead-letters/replay',
      { ids: ids.slice(i, i + 100) },
    );
    result.replayed.push(...answer.replayed.map((r) => r.id));
    result.skipped.push(...answer.skipped);
  }
  return result;
}

function printRow(d: DeadLetterRow): string {
  const state = d.replayed
    ? `replayed${d.replay_outcome ? `: ${d.replay_outcome.kind}${d.replay_outcome.code ? ` (${d.replay_outcome.code})` : ''}` : ', on its way'}`
    : d.replayable
      ? 'waiting'
      : 'not replayable (data not kept)';
  return (
    `${d.id}  ${d.age_seconds ?? '-'} s old  call_id=${d.call_id ?? '-'} job_id=${d.job_id ?? '-'} ` +
    `delivery_id=${d.delivery_id ?? '-'} attempts=${d.attempts ?? '-'}  ${state}\n    ${d.code}: ${d.reason}\n`
  );
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      id: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      execute: { type: 'boolean', default: false },
      limit: { type: 'string', default: '100' },
      'admin-url': { type: 'string' },
      token: { type: 'string' },
    },
  });
  const command = positionals[0];
  if (command !== 'list' && command !== 'replay') {
    process.stderr.write(
      'usage: npm run dead-letters -- list [--limit N] | replay (--id ID ... | --all) [--execute] [--admin-url URL] [--token TOKEN]\n',
    );
    process.exit(2);
  }
  const adminUrl = values['admin-url'] ?? process.env.ADMIN_URL ?? readLocalState()?.adminUrl;
  if (!adminUrl) {
    process.stderr.write('no admin API: start `npm start`, or give --admin-url (or ADMIN_URL)\n');
    process.exit(2);
  }
  const admin = createAdminClient(adminUrl, values.token ?? process.env.ADMIN_TOKEN);
  if (command === 'list') {
    const rows = await listDeadLetters(admin, Number(values.limit));
    process.stdout.write(rows.length ? rows.map(printRow).join('') : 'no dead letters\n');
    return;
  }
  if (!values.all && !values.id?.length) {
    process.stderr.write('replay needs --id ID (repeatable) or --all\n');
    process.exit(2);
  }
  const result = await replayDeadLetters(admin, { ids: values.id, all: values.all }, values.execute);
  process.stdout.write(
    `${result.dryRun ? 'would replay' : 'replayed'} ${result.replayed.length}: ${result.replayed.join(', ') || '-'}\n`,
  );
  for (const s of result.skipped) process.stdout.write(`skipped ${s.id}: ${s.reason}\n`);
  if (result.dryRun && result.replayed.length)
    process.stdout.write('dry run: nothing was published; add --execute to replay\n');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`dead-letters failed: ${String(err)}\n`);
    process.exit(1);
  });
}
