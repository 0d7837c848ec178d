/**
 * `npm run bench`: what an acknowledgement and a completion cost, measured side by side in one run
 * on this machine against a baseline doing the same job with the same libraries (the bare publisher
 * for the webhook, the bare worker for the worker), with a handler that only answers 202 beside the
 * acknowledgement rows. Every handler runs in its own process with the framework as published, as
 * on Cloud Functions, and its CPU is read from that process (/proc/<pid>/stat), so the emulators'
 * and the load generator's CPU do not count.
 *
 *   npm run bench                  everything (a few minutes)
 *   npm run bench -- --quick       smaller counts, for a quick look
 *   npm run bench -- --only e2e    one or more sections: ack, worker, e2e, batch
 *   npm run bench -- --huge        adds a 100,000-job batch (about 20 minutes on 2 cores)
 *   npm run bench -- --only batch --batches 100000x100,1000x16   just these batches (size × shards)
 *
 * Prints one table; docs/performance.md shows today's output.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { startEmulators } from '../local/emulators';
import { ackCost } from './bench-ack';
import { batchScale } from './bench-batch';
import { endToEnd } from './bench-e2e';
import { workerCost } from './bench-worker';
import { PROJECT, row, rows } from './bench-kit';

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
    if (wanted('worker')) await workerCost(values.quick, emulators.env);
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
  const header = ['figure', 'bare 202 (unjudged)', 'baseline', 'ours', 'ours vs baseline', 'goal'];
  const table = rows.map((r) => [r.figure, r.bare202, r.baseline, r.ours, r.ratio, r.goal]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  process.stdout.write(
    `\nomtx-modal-webhooks bench — ${cpus().length} cores, Node.js ${process.version}, Pub/Sub and Firestore emulators on this machine\n\n`,
  );
  process.stdout.write([line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line), ''].join('\n'));
  process.stdout.write(
    '\nbaseline: the bare publisher (ack rows: parse, HMAC, publish with the same client and settings) or the bare worker (worker rows).\nefficiency = baseline CPU ms per request ÷ ours (1 = as cheap as the least the job can be done with).\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
