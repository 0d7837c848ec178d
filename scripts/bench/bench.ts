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
 * Prints one table; docs/performance.md shows today's output.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPubSub, createPubSubAdmin } from '../../shared/adapters/pubsub';
import { startEmulators } from '../local/emulators';
import { freePort } from '../local/ports';
import { batchScale } from './bench-batch';
import { endToEnd } from './bench-e2e';
import {
  closedLoop,
  cpuTicks,
  f1,
  openLoop,
  payload,
  peakRssMiB,
  percentile,
  post,
  PROJECT,
  row,
  rows,
  SECRET,
  TICKS_PER_SECOND,
} from './bench-kit';
import { projectRoot, serveFunction, waitForPort, type ServedFunction } from '../local/local-stack';
import { COMPLETION_PATH } from '../../shared/contract/routes';

/** CPU milliseconds the process spent per request while serving `bodies`. */
async function cpuPerRequest(fn: ServedFunction, url: string, bodies: string[], concurrency: number) {
  const before = cpuTicks(fn.child.pid!);
  const load = await closedLoop(url, bodies, concurrency);
  const ms = ((cpuTicks(fn.child.pid!) - before) * 1000) / TICKS_PER_SECOND;
  return { cpuMs: ms / bodies.length, ...load };
}

async function serve(
  target: string,
  env: Record<string, string>,
  source?: string,
): Promise<{ fn: ServedFunction; url: string }> {
  const port = await freePort();
  const fn = serveFunction(target, 'http', port, env, () => undefined, source);
  await waitForPort(port, fn.child, fn.output);
  return { fn, url: `http://127.0.0.1:${port}${COMPLETION_PATH}` };
}

const f2 = (n: number) => n.toFixed(2);

type Served = Awaited<ReturnType<typeof serve>>;

/** The handlers measured side by side: the bare one, the webhook at each batch window, and a DRY_RUN webhook. */
interface Targets {
  env: Record<string, string>;
  bare: Served;
  windows: number[];
  hooks: Served[];
  dry: Served;
}

const serveBare = (env: Record<string, string>) =>
  serve('bareWebhook', env, join(projectRoot(), 'dist', 'scripts', 'bench', 'bench-bare.js'));

/** CPU per acknowledgement, side by side, for a small and a large body. */
async function cpuRows(t: Targets, quick: boolean): Promise<void> {
  const scenarios = [
    ['1 KB', 1024, quick ? 500 : 3000, 20],
    ['1.3 MB', 1.3 * 1024 * 1024, quick ? 40 : 150, 4],
  ] as const;
  for (const [label, bytes, count, concurrency] of scenarios) {
    const bodies = Array.from({ length: count }, (_, i) => payload(bytes, i));
    for (const target of [t.bare, ...t.hooks, t.dry])
      await closedLoop(target.url, bodies.slice(0, Math.min(50, count)), concurrency); // warm-up
    const b = await cpuPerRequest(t.bare.fn, t.bare.url, bodies, concurrency);
    const d = await cpuPerRequest(t.dry.fn, t.dry.url, bodies, concurrency);
    row(
      `CPU ms per ack, ${label} ×${count}, c=${concurrency}, DRY_RUN (no publish)`,
      f2(b.cpuMs),
      f2(d.cpuMs),
      `${f2(b.cpuMs / d.cpuMs)} efficiency`,
    );
    for (const [i, w] of t.windows.entries()) {
      const h = await cpuPerRequest(t.hooks[i]!.fn, t.hooks[i]!.url, bodies, concurrency);
      const goal = label === '1 KB' ? '≥ 0.5' : '≥ 0.7';
      row(
        `CPU ms per ack, ${label} ×${count}, c=${concurrency}, batch window ${w} ms${w === 1 ? ' (default)' : ''}`,
        f2(b.cpuMs),
        f2(h.cpuMs),
        `${f2(b.cpuMs / h.cpuMs)} efficiency`,
        w === 1 ? goal : '',
      );
      row(`  acks/s`, b.perSecond.toFixed(0), h.perSecond.toFixed(0), `${f2(h.perSecond / b.perSecond)}×`);
    }
  }
}

/** A steady sender: 200 requests per second of 1 KB, the webhook at its default 1 ms window. */
async function latencyRows(t: Targets, quick: boolean): Promise<void> {
  const rate = 200;
  const bodies = Array.from({ length: quick ? 400 : 2000 }, (_, i) => payload(1024, 50_000 + i));
  const bl = await openLoop(t.bare.url, bodies, rate);
  const hl = await openLoop(t.hooks[1]!.url, bodies, rate);
  const ratio = (p: number) => `${f1(percentile(hl, p) / percentile(bl, p))}×`;
  row(
    `ack latency at ${rate} req/s, 1 KB ×${bodies.length}: p50 ms`,
    f1(percentile(bl, 50)),
    f1(percentile(hl, 50)),
    ratio(50),
    '< 5',
  );
  row(`  p99 ms`, f1(percentile(bl, 99)), f1(percentile(hl, 99)), ratio(99), '< 20');
}

/**
 * Memory with the largest body Cloud Run takes, three times: in a fresh process of each kind (after
 * ten 1 KB warm-up requests), and in the processes that served everything above (their peak reset
 * first, so that it is the peak of this phase).
 */
async function memoryRows(t: Targets): Promise<void> {
  const big = payload(32 * 1024 * 1024 - 4096, 90_000);
  const small = Array.from({ length: 10 }, (_, i) => payload(1024, 95_000 + i));
  const fresh = await Promise.all([
    serveBare(t.env),
    serve('modalWebhook', { ...t.env, PUBLISH_BATCH_WINDOW_MS: '1' }),
  ]);
  const used = t.hooks[1]!;
  try {
    for (const f of fresh) await closedLoop(f.url, small, 1);
    for (const pid of [t.bare.fn.child.pid!, used.fn.child.pid!]) writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const before = [fresh[0], fresh[1], t.bare, used].map((f) => f1(peakRssMiB(f.fn.child.pid!)));
    for (let i = 0; i < 3; i++) {
      for (const target of [fresh[0], t.bare]) await post(target.url, big);
      for (const target of [fresh[1], used]) await post(target.url, big).catch(() => undefined);
    }
    const peak = (s: Served, i: number) => `${f1(peakRssMiB(s.fn.child.pid!))} (${before[i]})`;
    row(
      'peak RSS MiB taking three 32 MB bodies, fresh process (RSS before)',
      peak(fresh[0], 0),
      peak(fresh[1], 1),
      '',
      '< 256',
    );
    row('  same, in the process that served the runs above', peak(t.bare, 2), peak(used, 3), '', '');
  } finally {
    await Promise.all(fresh.map((f) => f.fn.stop()));
  }
}

async function ackCost(quick: boolean, emulatorEnv: Record<string, string>): Promise<void> {
  const pubsub = createPubSub(PROJECT);
  const topic = `bench-${randomBytes(3).toString('hex')}`;
  await createPubSubAdmin(pubsub).ensureTopic(topic);
  const env = {
    ...emulatorEnv,
    GOOGLE_CLOUD_PROJECT: PROJECT,
    METADATA_SERVER_DETECTION: 'none',
    MODAL_WEBHOOK_SECRET: SECRET,
    COMPLETIONS_TOPIC: topic,
    STATS_FLUSH_SECONDS: '30',
    NODE_ENV: 'production',
  };
  const windows = [0, 1, 5];
  const targets: Targets = {
    env,
    windows,
    bare: await serveBare(env),
    hooks: await Promise.all(windows.map((w) => serve('modalWebhook', { ...env, PUBLISH_BATCH_WINDOW_MS: String(w) }))),
    // Verify, parse, validate and log, but publish nothing: what the webhook costs besides Pub/Sub.
    dry: await serve('modalWebhook', { ...env, DRY_RUN: 'true' }),
  };
  try {
    await cpuRows(targets, quick);
    await latencyRows(targets, quick);
    await memoryRows(targets);
  } finally {
    await Promise.all([targets.bare, ...targets.hooks, targets.dry].map((s) => s.fn.stop()));
    await pubsub.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      huge: { type: 'boolean', default: false },
      batches: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const wanted = (section: string) => !values.only || values.only.split(',').includes(section);
  process.env.METADATA_SERVER_DETECTION = 'none';
  const emulators = await startEmulators(PROJECT);
  Object.assign(process.env, emulators.env);
  try {
    if (wanted('ack')) await ackCost(values.quick, emulators.env);
    if (wanted('e2e')) await endToEnd(values.quick);
    if (wanted('batch')) {
      const plan = [
        { size: 1000, shards: 16 },
        { size: 1000, shards: 100 },
      ];
      if (!values.quick) plan.push({ size: 10_000, shards: 16 }, { size: 10_000, shards: 100 });
      if (values.huge) plan.push({ size: 100_000, shards: 100 });
      if (values.batches) {
        // --batches 100000x100,1000x16: exactly these (size × counter shards), in this order.
        plan.splice(
          0,
          plan.length,
          ...values.batches.split(',').map((b) => {
            const [size, shards] = b.split('x').map(Number);
            if (!Number.isInteger(size) || !Number.isInteger(shards) || size! % 10 !== 0)
              throw new Error(`--batches: "${b}" is not SIZExSHARDS (size a multiple of 10)`);
            return { size: size!, shards: shards! };
          }),
        );
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
  process.stdout.write(
    `\nomtx-modal-webhooks bench — ${cpus().length} cores, Node.js ${process.version}, Pub/Sub and Firestore emulators on this machine\n\n`,
  );
  process.stdout.write([line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line), ''].join('\n'));
  process.stdout.write(
    '\nefficiency = bare CPU ms per request ÷ webhook CPU ms per request (1 = as cheap as answering 202 and nothing else).\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
