/**
 * What every bench section shares: the table's rows, signed payloads of a given size, closed- and
 * open-loop senders, a function served and watched (its applied completions), and CPU and memory
 * read from /proc/<pid> (Linux).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from '../../shared/contract/signature';
import { projectRoot, serveFunction, waitForPort, type ServedFunction } from '../local/local-stack';
import { freePort } from '../local/ports';

export const PROJECT = 'demo-omtx-bench';
export const SECRET = randomBytes(32).toString('base64');
export const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** One line of the table: the baseline doing the same job, ours, their ratio, the goal; the bare 202 handler beside ack rows. */
export interface Row {
  figure: string;
  baseline: string;
  ours: string;
  ratio: string;
  goal: string;
  bare202: string;
}
export const rows: Row[] = [];
export const row = (figure: string, baseline: string, ours: string, ratio: string, goal = '', bare202 = '') =>
  rows.push({ figure, baseline, ours, ratio, goal, bare202 });

export function percentile(sorted: number[], p: number): number {
  return sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
    : NaN;
}

export function payload(bytes: number, i: number, batchId?: string): string {
  const seed = JSON.parse(readFileSync(join(projectRoot(), 'test', 'fixtures', 'seed-success.json'), 'utf8'));
  seed.call_id = `bench-call-${i}`;
  seed.metadata = { job_id: `bench-job-${i}`, ...(batchId ? { batch_id: batchId } : {}) };
  const base = JSON.stringify({ ...seed, result: { ...seed.result, structure_file_base64: '' } }).length;
  seed.result.structure_file_base64 = Buffer.alloc(Math.max(0, Math.floor(((bytes - base) * 3) / 4)), 'A').toString(
    'base64',
  );
  return JSON.stringify(seed);
}

/** A signed POST of `body`; its status, whatever it is. */
export async function send(url: string, body: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-modal-signature': sign(SECRET, body),
      'x-modal-timestamp': String(Math.floor(Date.now() / 1000)),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** A signed POST of `body` that must be accepted. */
export async function post(url: string, body: string): Promise<number> {
  const status = await send(url, body);
  if (status >= 300) throw new Error(`unexpected ${status} from ${url}`);
  return status;
}

/** Closed loop: `concurrency` requests in flight until all are sent. */
export async function closedLoop(
  url: string,
  bodies: string[],
  concurrency: number,
): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t = performance.now();
        await post(url, body);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return {
    perSecond: bodies.length / ((performance.now() - started) / 1000),
    latencies: latencies.sort((a, b) => a - b),
  };
}

/** Open loop: one request every 1000/rate ms, whatever the answers, as a steady sender does. */
export async function openLoop(url: string, bodies: string[], rate: number): Promise<number[]> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    bodies.map(async (body, i) => {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = performance.now();
      await post(url, body);
      latencies.push(performance.now() - t);
    }),
  );
  return latencies.sort((a, b) => a - b);
}

export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** CPU ticks of every process whose command line contains `needle` (the emulators' Java processes). */
export function cpuTicksMatching(needle: string): number {
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

export function peakRssMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

export const f1 = (n: number) => n.toFixed(1);

/** `values` as "low–high" (one figure when they agree at this precision). */
export function range(values: number[], digits = 2): string {
  const low = Math.min(...values).toFixed(digits);
  const high = Math.max(...values).toFixed(digits);
  return low === high ? low : `${low}–${high}`;
}

/** A function served for measuring, with what its output says: its applied completions. */
export interface Measured {
  fn: ServedFunction;
  /** Where it takes requests: its port, then `path`. */
  url: string;
  /** completionApplied lines logged so far. */
  applied: () => number;
}

/** Serves `target` in its own process; `source`: a bench baseline's file instead of the project. */
export async function serveMeasured(
  target: string,
  signature: 'http' | 'cloudevent',
  env: Record<string, string>,
  options: { source?: string; path?: string } = {},
): Promise<Measured> {
  const port = await freePort();
  let applied = 0;
  const onLine = (line: string) => {
    if (line.includes('"completionApplied"')) applied++;
  };
  const fn = serveFunction(target, signature, port, env, onLine, options.source);
  await waitForPort(port, fn.child, fn.output);
  return { fn, url: `http://127.0.0.1:${port}${options.path ?? '/'}`, applied: () => applied };
}

/** A bench baseline's compiled file (dist/scripts/bench/). */
export const baseline = (file: string) => join(projectRoot(), 'dist', 'scripts', 'bench', file);
