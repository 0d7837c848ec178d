/** How long a body may take to arrive: idle, under the floor after the grace, or late. */
import fc from 'fast-check';
import { arrivalCheck, RATE_GRACE_MS, watchArrival, type ArrivalLimits } from '../../../../shared/framework/arrival';

const limits: ArrivalLimits = { idleMs: 5000, minBytesPerSecond: 16 * 1024, totalMs: 30_000 };
const at = (startedAt: number, lastByteAt: number, bytes: number) => ({ startedAt, lastByteAt, bytes });

it.each([
  ['nothing sent for the idle time', at(0, 0, 0), 5000, 'idle'],
  ['a drip of 100 bytes a second, after the grace', at(0, 4900, 500), RATE_GRACE_MS + 1, 'slow'],
  ['a steady 20 KiB/s body past the total', at(0, 29_999, 600 * 1024), 30_000, 'late'],
])('calls %s a stall', (_name, arrival, now, kind) => {
  expect(arrivalCheck(arrival, now, limits)).toMatchObject({ stall: { kind } });
});

it.each([
  ['a drip inside the grace', at(0, 4000, 400), 4500],
  ['a body at the floor', at(0, 9_900, 10 * 16 * 1024), 10_000],
  ['a 1.3 MB body in a second', at(0, 1000, 1_300_000), 1000],
])('lets %s go on', (_name, arrival, now) => {
  expect(arrivalCheck(arrival, now, limits)).toHaveProperty('nextCheckAt');
});

it('looks again when the first of idle, floor and total is due', () => {
  expect(arrivalCheck(at(0, 1000, 0), 1000, limits)).toEqual({ nextCheckAt: RATE_GRACE_MS });
  expect(arrivalCheck(at(0, 9000, 1024 * 1024), 9000, limits)).toEqual({ nextCheckAt: 14_000 });
  expect(arrivalCheck(at(0, 28_000, 10 * 1024 * 1024), 28_000, limits)).toEqual({ nextCheckAt: 30_000 });
  expect(arrivalCheck(at(0, 1000, 0), 1000, { ...limits, minBytesPerSecond: 0 })).toEqual({ nextCheckAt: 6000 });
});

it('never stalls a body that sends at least the floor without a pause as long as the idle time, until the total (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 4999 }), { minLength: 1, maxLength: 100 }),
      fc.integer({ min: 0, max: 5000 }),
      (gaps, extra) => {
        let now = 0;
        let bytes = 0;
        for (const gap of gaps) {
          now += gap;
          if (now >= limits.totalMs) break;
          // Each write brings the average back to the floor, at least.
          bytes = Math.max(bytes + 1, Math.ceil((now * limits.minBytesPerSecond) / 1000) + extra);
          expect(arrivalCheck(at(0, now, bytes), now, limits)).toHaveProperty('nextCheckAt');
        }
      },
    ),
  );
});

it('watches a stream with its own timer: a stall is reported once, at its time', async () => {
  const stalls: string[] = [];
  const started = Date.now();
  const watch = watchArrival({ idleMs: 100, minBytesPerSecond: 0, totalMs: 10_000 }, (s) => stalls.push(s.kind));
  await new Promise((r) => setTimeout(r, 60));
  watch.arrived(10);
  await new Promise((r) => setTimeout(r, 250));
  expect(stalls).toEqual(['idle']);
  expect(Date.now() - started).toBeGreaterThanOrEqual(160);
  watch.stop();
});
