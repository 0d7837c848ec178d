/** The sharded batch counters' rules. */
import fc from 'fast-check';
import { counterShard, rollupDue, rollupNeeded, sumShards } from '../../../../shared/batch/batch-counters';

it('puts a job in the same shard every time, within range, spread over all shards', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 100 }), (id, n) => {
      const s = counterShard(id, n);
      expect(s).toBe(counterShard(id, n));
      expect(s >= 0 && s < n).toBe(true);
    }),
  );
  const used = new Set(Array.from({ length: 1000 }, (_, i) => counterShard(`job-${i}`, 16)));
  expect(used.size).toBe(16);
});

it('sums any shards, ignoring what is not a count', () => {
  expect(sumShards([{ completed: 3, failed: 1 }, { completed: 2 }, { failed: -1 }, { completed: 'x' }])).toEqual({
    completed_jobs: 5,
    failed_jobs: 0,
  });
  expect(sumShards([])).toEqual({ completed_jobs: 0, failed_jobs: 0 });
});

it('writes the counts back only when they changed and the interval has passed, and never after completion', () => {
  const now = new Date('2026-11-28T12:00:10Z');
  const sums = { completed_jobs: 5, failed_jobs: 1 };
  expect(rollupNeeded(undefined, sums, now, 1000)).toBe(true);
  expect(rollupNeeded({ completed_jobs: 5, failed_jobs: 1 }, sums, now, 1000)).toBe(false);
  expect(
    rollupNeeded(
      { completed_jobs: 4, failed_jobs: 1, counts_updated_at: new Date('2026-11-28T12:00:09.500Z') },
      sums,
      now,
      1000,
    ),
  ).toBe(false);
  expect(
    rollupNeeded(
      { completed_jobs: 4, failed_jobs: 1, counts_updated_at: new Date('2026-11-28T12:00:08Z') },
      sums,
      now,
      1000,
    ),
  ).toBe(true);
  expect(rollupNeeded({ completed_jobs: 4, status: 'completed' }, sums, now, 0)).toBe(false);
  expect(rollupDue({}, now, 1000)).toBe(true);
});
