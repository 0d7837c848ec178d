/**
 * The bench's acknowledgement section: what the webhook costs per request beside the bare
 * publisher (bench-bare-publisher.ts: the framework's parse, an HMAC check, the official client's
 * publish with the webhook's settings), with a handler that only answers 202 reported beside them,
 * unjudged (bench-bare.ts). Each runs in its own process with the framework as published; CPU is
 * read from /proc/<pid>. Every figure is measured in several rounds, the handlers taking turns
 * within a round after a whole unmeasured one, and printed as its range; a ratio is computed
 * within each round, then ranged. Then the webhook's memory under the worst load its edge admits.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPubSub, createPubSubAdmin } from '../../shared/adapters/pubsub';
import { COMPLETION_PATH } from '../../shared/contract/routes';
import {
  baseline,
  closedLoop,
  cpuTicks,
  openLoop,
  payload,
  peakRssMiB,
  percentile,
  PROJECT,
  range,
  row,
  SECRET,
  send,
  serveMeasured,
  TICKS_PER_SECOND,
  type Measured,
} from './bench-kit';

/** The handlers measured side by side. */
interface Targets {
  env: Record<string, string>;
  /** Answers 202 and nothing else: reported, not judged. */
  bare202: Measured;
  /** The production baseline. */
  publisher: Measured;
  /** The webhook as deployed. */
  hook: Measured;
}

type Name = 'bare202' | 'publisher' | 'hook';
const NAMES: readonly Name[] = ['bare202', 'publisher', 'hook'];

const serveTarget = (name: Name, env: Record<string, string>) =>
  name === 'hook'
    ? serveMeasured('modalWebhook', 'http', env, { path: COMPLETION_PATH })
    : serveMeasured(name === 'publisher' ? 'barePublisher' : 'bareWebhook', 'http', env, {
        source: baseline(name === 'publisher' ? 'bench-bare-publisher.js' : 'bench-bare.js'),
        path: COMPLETION_PATH,
      });

/** CPU ms per request of one handler over `bodies`, `concurrency` at once. */
async function cpuPerRequest(s: Measured, bodies: string[], concurrency: number): Promise<number> {
  const before = cpuTicks(s.fn.child.pid!);
  await closedLoop(s.url, bodies, concurrency);
  return ((cpuTicks(s.fn.child.pid!) - before) * 1000) / TICKS_PER_SECOND / bodies.length;
}

/** CPU per acknowledgement of a 1 KB and a 1.3 MB body, in `rounds` rounds. */
async function cpuRows(t: Targets, quick: boolean, rounds: number): Promise<void> {
  const scenarios = [
    { label: '1 KB', bytes: 1024, count: quick ? 500 : 3000, concurrency: 20 },
    { label: '1.3 MB', bytes: 1.3 * 1024 * 1024, count: quick ? 60 : 200, concurrency: 4 },
  ];
  for (const [n, s] of scenarios.entries()) {
    // Bodies of their own in every round: the same signed body again is a replay, which the
    // webhook answers without publishing (the handlers take turns on one round's bodies).
    const bodiesOf = (round: number) =>
      Array.from({ length: s.count }, (_, i) => payload(s.bytes, 1_000_000 * (n + 1) + 10_000 * (round + 1) + i));
    // A whole unmeasured round first: the first thousands of requests are the JIT's.
    const warmUp = bodiesOf(-1);
    for (const name of NAMES) await closedLoop(t[name].url, warmUp, s.concurrency);
    const cpu: Record<Name, number[]> = { bare202: [], publisher: [], hook: [] };
    for (let r = 0; r < rounds; r++) {
      const bodies = bodiesOf(r);
      for (const name of NAMES) cpu[name].push(await cpuPerRequest(t[name], bodies, s.concurrency));
    }
    row(
      `CPU ms per ack, ${s.label} ×${s.count}, c=${s.concurrency}`,
      range(cpu.publisher),
      range(cpu.hook),
      `${range(cpu.publisher.map((p, i) => p / cpu.hook[i]!))} efficiency`,
      '≥ 0.85',
      range(cpu.bare202),
    );
  }
}

/** A steady sender: 200 requests per second of 1 KB, in rounds. */
async function latencyRows(t: Targets, quick: boolean, rounds: number): Promise<void> {
  const rate = 200;
  const count = quick ? 400 : 2000;
  const p: Record<Name, Record<50 | 99, number[]>> = {
    bare202: { 50: [], 99: [] },
    publisher: { 50: [], 99: [] },
    hook: { 50: [], 99: [] },
  };
  for (let r = 0; r < rounds; r++) {
    const bodies = Array.from({ length: count }, (_, i) => payload(1024, 5_000_000 + 10_000 * r + i));
    for (const name of NAMES) {
      const latencies = await openLoop(t[name].url, bodies, rate);
      p[name][50].push(percentile(latencies, 50));
      p[name][99].push(percentile(latencies, 99));
    }
  }
  for (const q of [50, 99] as const) {
    row(
      q === 50 ? `ack latency at ${rate} req/s, 1 KB ×${count}: p50 ms` : '  p99 ms',
      range(p.publisher[q], 1),
      range(p.hook[q], 1),
      `${range(
        p.hook[q].map((h, i) => h / p.publisher[q][i]!),
        2,
      )}×`,
      '≤ 1.5×',
      range(p.bare202[q], 1),
    );
  }
}

/**
 * The worst load the webhook's edge admits, on fresh instances: its byte budget full of signed
 * 32 MiB bodies (three at once, each claim-checked) and 80 concurrent 1 KB completions, in rounds;
 * each of `processes` fresh processes takes all the rounds, and the row ranges their peaks.
 */
async function memoryRow(env: Record<string, string>, rounds: number, processes: number): Promise<void> {
  const peaks: number[] = [];
  const idles: number[] = [];
  const statuses: number[] = [];
  for (let p = 0; p < processes; p++) {
    const hook = await serveTarget('hook', {
      ...env,
      RESULTS_DIR: join(tmpdir(), `omtx-bench-ack-${randomBytes(3).toString('hex')}`),
    });
    try {
      idles.push(peakRssMiB(hook.fn.child.pid!));
      for (let r = 0; r < rounds; r++) {
        const first = 90_000 + 1_000 * p + 100 * r;
        const large = Array.from({ length: 3 }, (_, i) => payload(32 * 1024 * 1024 - 4096, first + i));
        const small = Array.from({ length: 80 }, (_, i) => payload(1024, first + 10 + i));
        const sent = await Promise.all([...large, ...small].map((b) => send(hook.url, b).catch(() => 0)));
        statuses.push(...sent);
      }
      peaks.push(peakRssMiB(hook.fn.child.pid!));
    } finally {
      await hook.fn.stop();
    }
  }
  const accepted = statuses.filter((s) => s === 202).length;
  const others = [...new Set(statuses.filter((s) => s !== 202))]
    .map((code) => `${statuses.filter((s) => s === code).length}×${code || 'connection error'}`)
    .join(' ');
  row(
    `webhook peak RSS MiB: 3 × 32 MiB + 80 × 1 KB at once, ×${rounds}, in each of ${processes} fresh processes`,
    '',
    `${range(peaks, 1)} (idle ${range(idles, 1)})`,
    `${accepted}/${statuses.length} accepted${others ? ` (${others})` : ''}`,
    '< 384 (75 % of 512)',
  );
}

export async function ackCost(quick: boolean, emulatorEnv: Record<string, string>): Promise<void> {
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
  const [bare202, publisher, hook] = await Promise.all(NAMES.map((name) => serveTarget(name, env)));
  const targets: Targets = { env, bare202: bare202!, publisher: publisher!, hook: hook! };
  const rounds = quick ? 2 : 3;
  try {
    await cpuRows(targets, quick, rounds);
    await latencyRows(targets, quick, rounds);
  } finally {
    await Promise.all(NAMES.map((name) => targets[name].fn.stop()));
  }
  await memoryRow(env, quick ? 2 : 5, quick ? 2 : 3);
  await pubsub.close();
}
