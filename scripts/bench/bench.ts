/**
 * `npm run bench`: what an acknowledgement and a completion cost, measured side by side in one run
 * on this machine, with a bare Functions Framework handler (answers 202, nothing else) beside every
 * webhook figure. Every handler runs in its own process, as on Cloud Functions, and its CPU is read
 * from that process (/proc/<pid>/stat), so the emulators' and the load generator's CPU do not count.
 *
 *   npm run bench                  everything (a few minutes)
 *   npm run bench -- --quick       smaller counts, for a quick look
 *   npm run bench -- --only e2e    one or more sections: ack, e2e, batch
 *   npm run bench -- --huge        adds a 100,000-job batch (about 20 minutes on 2 cores)
 *   npm run bench -- --only batch --batches 100000x100,1000x16   just these batches (size × shards)
 *
 * Prints one table; README's Performance section shows its latest output.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFirestore } from '../../shared/adapters/firestore';
import { createPubSub, createPubSubAdmin } from '../../shared/adapters/pubsub';
import { sign } from '../../shared/contract/signature';
import { freePort, startEmulators } from '../local/emulators';
import { batchScale } from './bench-batch';
import { projectRoot, serveFunction, startLocalStack, waitForPort, type ServedFunction } from '../local/local-stack';

const PROJECT = 'demo-omtx-bench';
const SECRET = randomBytes(32).toString('base64');
const TICKS_PER_SECOND = 100; // Linux USER_HZ

interface Row {
  figure: string;
  bare: string;
  webhook: string;
  ratio: string;
  goal: string;
}
const rows: Row[] = [];
const row = (figure: string, bare: string, webhook: string, ratio: string, goal = '') => rows.push({ figure, bare, webhook, ratio, goal });

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : NaN;
}

function payload(bytes: number, i: number, batchId?: string): string {
  const seed = JSON.parse(readFileSync(join(projectRoot(), 'test', 'fixtures', 'seed-success.json'), 'utf8'));
  seed.call_id = `bench-call-${i}`;
  seed.metadata = { job_id: `bench-job-${i}`, ...(batchId ? { batch_id: batchId } : {}) };
  const base = JSON.stringify({ ...seed, result: { ...seed.result, structure_file_base64: '' } }).length;
  seed.result.structure_file_base64 = Buffer.alloc(Math.max(0, Math.floor(((bytes - base) * 3) / 4)), 'A').toString('base64');
  return JSON.stringify(seed);
}

async function post(url: string, body: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-modal-signature': sign(SECRET, body), 'x-modal-timestamp': String(Math.floor(Date.now() / 1000)) },
    body,
  });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`unexpected ${res.status} from ${url}`);
  return res.status;
}

/** Closed loop: `concurrency` requests in flight until all are sent. */
async function closedLoop(url: string, bodies: string[], concurrency: number): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const t = performance.now();
      await post(url, body);
      latencies.push(performance.now() - t);
    }
  }));
  return { perSecond: bodies.length / ((performance.now() - started) / 1000), latencies: latencies.sort((a, b) => a - b) };
}

/** Open loop: one request every 1000/rate ms, whatever the answers, as a steady sender does. */
async function openLoop(url: string, bodies: string[], rate: number): Promise<number[]> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(bodies.map(async (body, i) => {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    await post(url, body);
    latencies.push(performance.now() - t);
  }));
  return latencies.sort((a, b) => a - b);
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** CPU ticks of every process whose command line contains `needle` (the emulators' Java processes). */
function cpuTicksMatching(needle: string): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) ticks += cpuTicks(Number(entry));
    } catch {
      // the process ended
    }
  }
  return ticks;
}

function peakRssMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

/** CPU milliseconds the process spent per request while serving `bodies`. */
async function cpuPerRequest(fn: ServedFunction, url: string, bodies: string[], concurrency: number) {
  const before = cpuTicks(fn.child.pid!);
  const load = await closedLoop(url, bodies, concurrency);
  const ms = ((cpuTicks(fn.child.pid!) - before) * 1000) / TICKS_PER_SECOND;
  return { cpuMs: ms / bodies.length, ...load };
}

async function serve(target: string, env: Record<string, string>, source?: string): Promise<{ fn: ServedFunction; url: string }> {
  const port = await freePort();
  const fn = serveFunction(target, 'http', port, env, () => undefined, source);
  await waitForPort(port, fn.child, fn.output);
  return { fn, url: `http://127.0.0.1:${port}/api/v3/webhooks/modal/completion` };
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function ackCost(quick: boolean, emulatorEnv: Record<string, string>): Promise<void> {
  const pubsub = createPubSub(PROJECT);
  const topic = `bench-${randomBytes(3).toString('hex')}`;
  await createPubSubAdmin(pubsub).ensureTopic(topic);
  const env = { ...emulatorEnv, GOOGLE_CLOUD_PROJECT: PROJECT, METADATA_SERVER_DETECTION: 'none', MODAL_WEBHOOK_SECRET: SECRET, COMPLETIONS_TOPIC: topic, STATS_FLUSH_SECONDS: '30', NODE_ENV: 'production' };
  const bare = await serve('bareWebhook', env, join(projectRoot(), 'dist', 'scripts', 'bench', 'bench-bare.js'));
  const windows = [0, 1, 5];
  const hooks = await Promise.all(windows.map((w) => serve('modalWebhook', { ...env, PUBLISH_BATCH_WINDOW_MS: String(w) })));
  // Verify, parse, validate and log, but publish nothing: what the webhook costs besides Pub/Sub.
  const dry = await serve('modalWebhook', { ...env, DRY_RUN: 'true' });
  try {
    const scenarios = [['1 KB', 1024, quick ? 500 : 3000, 20], ['1.3 MB', 1.3 * 1024 * 1024, quick ? 40 : 150, 4]] as const;
    for (const [label, bytes, count, concurrency] of scenarios) {
      const bodies = Array.from({ length: count }, (_, i) => payload(bytes, i));
      for (const target of [bare, ...hooks, dry]) await closedLoop(target.url, bodies.slice(0, Math.min(50, count)), concurrency); // warm-up
      const b = await cpuPerRequest(bare.fn, bare.url, bodies, concurrency);
      const d = await cpuPerRequest(dry.fn, dry.url, bodies, concurrency);
      row(`CPU ms per ack, ${label} ×${count}, c=${concurrency}, DRY_RUN (no publish)`, f2(b.cpuMs), f2(d.cpuMs), `${f2(b.cpuMs / d.cpuMs)} efficiency`);
      for (const [i, w] of windows.entries()) {
        const h = await cpuPerRequest(hooks[i]!.fn, hooks[i]!.url, bodies, concurrency);
        const goal = label === '1 KB' ? '≥ 0.5' : '≥ 0.7';
        row(`CPU ms per ack, ${label} ×${count}, c=${concurrency}, batch window ${w} ms${w === 1 ? ' (default)' : ''}`, f2(b.cpuMs), f2(h.cpuMs), `${f2(b.cpuMs / h.cpuMs)} efficiency`, w === 1 ? goal : '');
        row(`  acks/s`, b.perSecond.toFixed(0), h.perSecond.toFixed(0), `${f2(h.perSecond / b.perSecond)}×`);
      }
    }

    // A steady sender: 200 requests per second of 1 KB.
    const rate = 200;
    const bodies = Array.from({ length: quick ? 400 : 2000 }, (_, i) => payload(1024, 50_000 + i));
    const bl = await openLoop(bare.url, bodies, rate);
    const hl = await openLoop(hooks[1]!.url, bodies, rate); // the default window, 1 ms
    row(`ack latency at ${rate} req/s, 1 KB ×${bodies.length}: p50 ms`, f1(percentile(bl, 50)), f1(percentile(hl, 50)), `${f1(percentile(hl, 50) / percentile(bl, 50))}×`, '< 5');
    row(`  p99 ms`, f1(percentile(bl, 99)), f1(percentile(hl, 99)), `${f1(percentile(hl, 99) / percentile(bl, 99))}×`, '< 20');

    // Memory with the largest body Cloud Run takes, three times: in a fresh process of each kind
    // (after ten 1 KB warm-up requests), and in the processes that served everything above (their
    // peak reset first, so that it is the peak of this phase).
    const big = payload(32 * 1024 * 1024 - 4096, 90_000);
    const fresh = await Promise.all([serve('bareWebhook', env, join(projectRoot(), 'dist', 'scripts', 'bench', 'bench-bare.js')), serve('modalWebhook', { ...env, PUBLISH_BATCH_WINDOW_MS: '1' })]);
    try {
      for (const f of fresh) await closedLoop(f.url, bodies.slice(0, 10), 1);
      for (const pid of [bare.fn.child.pid!, hooks[1]!.fn.child.pid!]) writeFileSync(`/proc/${pid}/clear_refs`, '5');
      const before = [fresh[0]!, fresh[1]!, bare, hooks[1]!].map((f) => f1(peakRssMiB(f.fn.child.pid!)));
      for (let i = 0; i < 3; i++) {
        for (const target of [fresh[0]!, bare]) await post(target.url, big);
        for (const target of [fresh[1]!, hooks[1]!]) await post(target.url, big).catch(() => undefined);
      }
      row('peak RSS MiB taking three 32 MB bodies, fresh process (RSS before)', `${f1(peakRssMiB(fresh[0]!.fn.child.pid!))} (${before[0]})`, `${f1(peakRssMiB(fresh[1]!.fn.child.pid!))} (${before[1]})`, '', '< 256');
      row('  same, in the process that served the runs above', `${f1(peakRssMiB(bare.fn.child.pid!))} (${before[2]})`, `${f1(peakRssMiB(hooks[1]!.fn.child.pid!))} (${before[3]})`, '', '');
    } finally {
      await Promise.all(fresh.map((f) => f.fn.stop()));
    }
  } finally {
    await Promise.all([bare, ...hooks, dry].map((s) => s.fn.stop()));
    await pubsub.close();
  }
}

async function endToEnd(quick: boolean): Promise<void> {
  const run = randomBytes(3).toString('hex');
  const collections = { JOBS_COLLECTION: `bench_jobs_${run}`, BATCHES_COLLECTION: `bench_batches_${run}`, PIPELINE_COLLECTION_PREFIX: `b${run}_` };
  const workerLines: Array<Record<string, unknown>> = [];
  const stack = await startLocalStack({
    projectId: PROJECT,
    secret: SECRET,
    completionsTopic: `bench-completions-${run}`,
    batchEventsTopic: `bench-events-${run}`,
    env: { ...collections, ...(process.env.CLAIM_CHECK_THRESHOLD_BYTES ? { CLAIM_CHECK_THRESHOLD_BYTES: process.env.CLAIM_CHECK_THRESHOLD_BYTES } : {}) },
    onLog: (service, line) => {
      if (service !== 'worker' || !line.includes('"completionApplied"')) return;
      try {
        workerLines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON
      }
    },
  });
  const db = createFirestore(PROJECT, '(default)');
  const url = `${stack.webhookUrl}/api/v3/webhooks/modal/completion`;
  /** The worker's completionApplied lines of jobs starting with `prefix`, once there are `n` (read from its log, so nothing polls Firestore meanwhile). */
  const applied = async (prefix: string, n: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mine = workerLines.filter((l) => String(l.job_id).startsWith(prefix));
      if (mine.length >= n || Date.now() > deadline) return mine;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  try {
    // 50 completions per second for 10 s, each in no batch: webhook received → job completed.
    // Warm-up: the worker's first completions open its channels; measure only once they are applied.
    await closedLoop(url, Array.from({ length: 30 }, (_, i) => payload(1024, 70_000 + i)), 4);
    await applied('bench-job-7', 30, 60_000);
    const n = quick ? 100 : 500;
    const bodies = Array.from({ length: n }, (_, i) => payload(1024, 100_000 + i));
    await openLoop(url, bodies, 50);
    const lines = await applied('bench-job-1', n, 60_000);
    const latencies = sorted(lines.map((l) => Number(l.processing_latency_ms)));
    row(`end to end at 50/s ×${n} (webhook received → job completed): p50 ms`, '', f1(percentile(latencies, 50)), `${latencies.length}/${n} completed`, '< 100');
    row('  p99 ms', '', f1(percentile(latencies, 99)), '', '< 250');
    const own = sorted(lines.map((l) => Number(l.duration_ms)));
    row("  worker's own time per completion: p50 / p99 ms", '', `${f1(percentile(own, 50))} / ${f1(percentile(own, 99))}`, 'files, then read + one atomic write');

    // Worker memory while taking 1.3 MB completions at full speed.
    const large = Array.from({ length: quick ? 20 : 80 }, (_, i) => payload(1.3 * 1024 * 1024, 200_000 + i));
    await closedLoop(url, large, 8);
    await applied('bench-job-2', large.length, 120_000);
    row(`worker peak RSS MiB, ×${large.length} 1.3 MB completions at full speed`, '', f1(peakRssMiB(stack.functions.worker.child.pid!)), '', '< 256');

    // A hot batch: 1,000 jobs of one batch completing at once.
    const size = quick ? 200 : 1000;
    const batchId = `hot-${run}`;
    await db.collection(collections.BATCHES_COLLECTION).doc(batchId).set({ total_jobs: size });
    const hot = Array.from({ length: size }, (_, i) => payload(1024, 300_000 + i, batchId));
    // Where the time goes: CPU of each process over the hot batch (the relay runs in this process,
    // with the load generator).
    const processes = {
      'Firestore emulator': () => cpuTicksMatching('cloud-firestore-emulator'),
      'Pub/Sub emulator': () => cpuTicksMatching('pubsub-emulator'),
      worker: () => cpuTicks(stack.functions.worker.child.pid!),
      webhook: () => cpuTicks(stack.functions.webhook.child.pid!),
      'relay + load generator': () => cpuTicks(process.pid),
    };
    const cpuBefore = Object.fromEntries(Object.entries(processes).map(([k, f]) => [k, f()]));
    const started = Date.now();
    await closedLoop(url, hot, 50);
    const acked = Date.now() - started;
    let batch: FirebaseFirestore.DocumentData | undefined;
    while (Date.now() - started < 120_000) {
      batch = (await db.collection(collections.BATCHES_COLLECTION).doc(batchId).get()).data();
      if (batch?.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const finalized = Date.now() - started;
    const cpuSeconds = Object.entries(processes).map(([k, f]) => [k, (f() - cpuBefore[k]!) / TICKS_PER_SECOND] as const);
    const exact = batch?.status === 'completed' && batch.completed_jobs === size && batch.summary?.completed_jobs === size;
    row(`hot batch: ${size} jobs at once (c=50) → finalised, s`, '', `${(finalized / 1000).toFixed(1)} (acks done at ${(acked / 1000).toFixed(1)})`, exact ? 'counts exact, finalised once' : `NOT EXACT: ${JSON.stringify({ status: batch?.status, completed: batch?.completed_jobs })}`, '< 5');
    const total = cpuSeconds.reduce((n, [, v]) => n + v, 0);
    row('  CPU s during the hot batch, by process', '', cpuSeconds.map(([k, v]) => `${k} ${f1(v)}`).join(', '),
      `${f1(total)} CPU s in ${f1(finalized / 1000)} s on ${cpus().length} cores (${Math.round((total / (finalized / 1000) / cpus().length) * 100)} % busy)`);
  } finally {
    await db.terminate();
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, huge: { type: 'boolean', default: false }, batches: { type: 'string' }, only: { type: 'string' } } });
  const wanted = (section: string) => !values.only || values.only.split(',').includes(section);
  process.env.METADATA_SERVER_DETECTION = 'none';
  const emulators = await startEmulators(PROJECT);
  Object.assign(process.env, emulators.env);
  try {
    if (wanted('ack')) await ackCost(values.quick!, emulators.env);
    if (wanted('e2e')) await endToEnd(values.quick!);
    if (wanted('batch')) {
      const plan = [{ size: 1000, shards: 16 }, { size: 1000, shards: 100 }];
      if (!values.quick) plan.push({ size: 10_000, shards: 16 }, { size: 10_000, shards: 100 });
      if (values.huge) plan.push({ size: 100_000, shards: 100 });
      if (values.batches) {
        // --batches 100000x100,1000x16: exactly these (size × counter shards), in this order.
        plan.splice(0, plan.length, ...values.batches.split(',').map((b) => {
          const [size, shards] = b.split('x').map(Number);
          if (!Number.isInteger(size) || !Number.isInteger(shards) || size! % 10 !== 0) throw new Error(`--batches: "${b}" is not SIZExSHARDS (size a multiple of 10)`);
          return { size: size!, shards: shards! };
        }));
      }
      await batchScale(row, plan);
    }
  } finally {
    await emulators.stop();
  }
  const header = ['figure', 'bare handler', 'webhook', 'webhook vs bare', 'goal'];
  const table = rows.map((r) => [r.figure, r.bare, r.webhook, r.ratio, r.goal]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  process.stdout.write(`\nomtx-modal-webhooks bench — ${cpus().length} cores, Node.js ${process.version}, Pub/Sub and Firestore emulators on this machine\n\n`);
  process.stdout.write([line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line), ''].join('\n'));
  process.stdout.write('\nefficiency = bare CPU ms per request ÷ webhook CPU ms per request (1 = as cheap as answering 202 and nothing else).\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
