/**
 * The bench's acknowledgement section: what the webhook costs per request beside a bare Functions
 * Framework handler that only answers 202, each in its own process (CPU from /proc/<pid>/stat,
 * collections from a preloaded observer, gc-observer.ts). Every figure is measured in several rounds, the
 * handlers taking turns within a round, and printed as the range over the rounds; a ratio is
 * computed within each round, then ranged.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createPubSub, createPubSubAdmin } from '../../shared/adapters/pubsub';
import { COMPLETION_PATH } from '../../shared/contract/routes';
import {
  closedLoop,
  cpuTicks,
  f1,
  GC_OBSERVED,
  openLoop,
  payload,
  peakRssMiB,
  percentile,
  post,
  PROJECT,
  range,
  row,
  SECRET,
  TICKS_PER_SECOND,
  baseline,
  serveMeasured,
  type Measured,
} from './bench-kit';

const serve = (target: string, env: Record<string, string>) =>
  serveMeasured(target, 'http', env, { path: COMPLETION_PATH });

const serveBare = (env: Record<string, string>) =>
  serveMeasured('bareWebhook', 'http', env, { source: baseline('bench-bare.js'), path: COMPLETION_PATH });

/** One handler's figures over one run of `bodies`. */
interface Run {
  cpuMs: number;
  perSecond: number;
  /** Full collections per 200 requests. */
  fullGcs: number;
  /** Share of the process's CPU spent in collection on its main thread. */
  gcShare: number;
}

async function measure(s: Measured, bodies: string[], concurrency: number): Promise<Run> {
  const cpu = cpuTicks(s.fn.child.pid!);
  const gc = { ...s.gc };
  const load = await closedLoop(s.url, bodies, concurrency);
  // Lines still on their way from the child: the last collections are counted once they arrive.
  await new Promise((r) => setTimeout(r, 200));
  const ms = ((cpuTicks(s.fn.child.pid!) - cpu) * 1000) / TICKS_PER_SECOND;
  return {
    cpuMs: ms / bodies.length,
    perSecond: load.perSecond,
    fullGcs: ((s.gc.full - gc.full) * 200) / bodies.length,
    gcShare: (s.gc.ms - gc.ms) / ms,
  };
}

/** The handlers measured side by side. */
interface Targets {
  env: Record<string, string>;
  bare: Measured;
  /** The webhook as deployed (publish batch window 1 ms). */
  hook: Measured;
  /** Verifies, parses, validates and logs, but publishes nothing: the webhook's cost besides Pub/Sub. */
  dry: Measured;
}

type Runs = Record<'bare' | 'hook' | 'dry', Run[]>;

interface Scenario {
  label: string;
  bytes: number;
  count: number;
  concurrency: number;
  goal: string;
  dryGoal: string;
  gcGoal: string;
}

/** The rows of one scenario: each figure's range over the rounds, each ratio taken within a round. */
function scenarioRows(s: Scenario, runs: Runs): void {
  const of = (name: keyof Runs, pick: (x: Run) => number, digits = 2) => range(runs[name].map(pick), digits);
  const ratio = (name: 'hook' | 'dry', pick: (x: Run) => number) =>
    range(runs.bare.map((b, i) => pick(b) / pick(runs[name][i]!)));
  const gc = (name: keyof Runs) =>
    `${of(name, (x) => x.fullGcs, 1)} / ${range(
      runs[name].map((x) => x.gcShare * 100),
      0,
    )} %`;
  const head = `${s.label} ×${s.count}, c=${s.concurrency}`;
  for (const [name, what, goal] of [
    ['dry', 'DRY_RUN (no publish)', s.dryGoal],
    ['hook', 'publishing', s.goal],
  ] as const) {
    const cpu = (x: Run) => x.cpuMs;
    row(`CPU ms per ack, ${head}, ${what}`, of('bare', cpu), of(name, cpu), `${ratio(name, cpu)} efficiency`, goal);
    const moreGcs = runs[name].map((x, i) => x.fullGcs / Math.max(runs.bare[i]!.fullGcs, 0.5));
    row(
      '  full GCs per 200 acks / GC share of CPU (main thread)',
      gc('bare'),
      gc(name),
      `${range(moreGcs, 1)}× the full GCs`,
      name === 'hook' ? s.gcGoal : '',
    );
  }
  const rate = (x: Run) => x.perSecond;
  row('  acks/s, publishing', of('bare', rate, 0), of('hook', rate, 0), `${ratio('hook', (x) => 1 / rate(x))}×`);
}

/** CPU per acknowledgement for a small and a large body, in `rounds` rounds. */
async function cpuRows(t: Targets, quick: boolean, rounds: number): Promise<void> {
  const scenarios: Scenario[] = [
    { label: '1 KB', bytes: 1024, count: quick ? 500 : 3000, concurrency: 20, goal: '≥ 0.7', dryGoal: '', gcGoal: '' },
    {
      label: '1.3 MB',
      bytes: 1.3 * 1024 * 1024,
      count: quick ? 60 : 200,
      concurrency: 4,
      goal: '≥ 0.85',
      dryGoal: '≥ 1.0',
      gcGoal: '≤ 2×',
    },
  ];
  for (const [n, s] of scenarios.entries()) {
    // Bodies of their own in every round: the same signed body again is a replay, which the
    // webhook answers without publishing (the handlers take turns on one round's bodies).
    const bodiesOf = (round: number) =>
      Array.from({ length: s.count }, (_, i) => payload(s.bytes, 1_000_000 * (n + 1) + 10_000 * (round + 1) + i));
    // A whole unmeasured round first: the first thousands of requests are the JIT's and the pool's.
    const warmUp = bodiesOf(-1);
    for (const target of [t.bare, t.hook, t.dry]) await closedLoop(target.url, warmUp, s.concurrency);
    const runs: Runs = { bare: [], hook: [], dry: [] };
    for (let r = 0; r < rounds; r++) {
      const bodies = bodiesOf(r);
      for (const name of ['bare', 'dry', 'hook'] as const)
        runs[name].push(await measure(t[name], bodies, s.concurrency));
    }
    scenarioRows(s, runs);
  }
}

/** A steady sender: 200 requests per second of 1 KB, in rounds. */
async function latencyRows(t: Targets, quick: boolean, rounds: number): Promise<void> {
  const rate = 200;
  const count = quick ? 400 : 2000;
  const p = { bare: { 50: [] as number[], 99: [] as number[] }, hook: { 50: [] as number[], 99: [] as number[] } };
  for (let r = 0; r < rounds; r++) {
    const bodies = Array.from({ length: count }, (_, i) => payload(1024, 5_000_000 + 10_000 * r + i));
    for (const name of ['bare', 'hook'] as const) {
      const latencies = await openLoop(t[name].url, bodies, rate);
      p[name][50].push(percentile(latencies, 50));
      p[name][99].push(percentile(latencies, 99));
    }
  }
  for (const q of [50, 99] as const) {
    row(
      q === 50 ? `ack latency at ${rate} req/s, 1 KB ×${count}: p50 ms` : '  p99 ms',
      range(p.bare[q], 1),
      range(p.hook[q], 1),
      `${range(
        p.hook[q].map((h, i) => h / p.bare[q][i]!),
        1,
      )}×`,
      q === 50 ? '< 5' : '< 20',
    );
  }
}

/**
 * Memory with the largest body Cloud Run takes, three times: in a fresh process of each kind (after
 * ten 1 KB warm-up requests), and in the processes that served everything above (their peak reset
 * first, so that it is the peak of this phase).
 */
async function memoryRows(t: Targets): Promise<void> {
  const small = Array.from({ length: 10 }, (_, i) => payload(1024, 95_000 + i));
  const fresh = await Promise.all([serveBare(t.env), serve('modalWebhook', t.env)]);
  try {
    for (const f of fresh) await closedLoop(f.url, small, 1);
    for (const s of [t.bare, t.hook]) writeFileSync(`/proc/${s.fn.child.pid!}/clear_refs`, '5');
    const before = [fresh[0], fresh[1], t.bare, t.hook].map((f) => f1(peakRssMiB(f.fn.child.pid!)));
    for (let i = 0; i < 3; i++) {
      // A body of its own each time: the same signed body again would be a replay.
      const big = payload(32 * 1024 * 1024 - 4096, 90_000 + i);
      for (const target of [fresh[0], t.bare]) await post(target.url, big);
      for (const target of [fresh[1], t.hook]) await post(target.url, big).catch(() => undefined);
    }
    const peak = (s: Measured, i: number) => `${f1(peakRssMiB(s.fn.child.pid!))} (${before[i]})`;
    row(
      'peak RSS MiB taking three 32 MB bodies, fresh process (RSS before)',
      peak(fresh[0], 0),
      peak(fresh[1], 1),
      '',
      '< 256',
    );
    row('  same, in the process that served the runs above', peak(t.bare, 2), peak(t.hook, 3), '', '');
  } finally {
    await Promise.all(fresh.map((f) => f.fn.stop()));
  }
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
    NODE_OPTIONS: GC_OBSERVED,
  };
  const targets: Targets = {
    env,
    bare: await serveBare(env),
    hook: await serve('modalWebhook', env),
    dry: await serve('modalWebhook', { ...env, DRY_RUN: 'true' }),
  };
  const rounds = quick ? 2 : 3;
  try {
    await cpuRows(targets, quick, rounds);
    await latencyRows(targets, quick, rounds);
    await memoryRows(targets);
  } finally {
    await Promise.all([targets.bare, targets.hook, targets.dry].map((s) => s.fn.stop()));
    await pubsub.close();
  }
}
