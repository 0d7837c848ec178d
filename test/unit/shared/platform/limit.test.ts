import { createLimiter } from '../../../../shared/platform/limit';

it('runs at most max tasks at once, all of them, in order, even when some fail', async () => {
  const limit = createLimiter(3);
  let active = 0;
  let peak = 0;
  const started: number[] = [];
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      limit(async () => {
        started.push(i);
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
        if (i % 7 === 0) throw new Error(`task ${i}`);
        return i;
      }),
    ),
  );
  expect(peak).toBe(3);
  expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(results.filter((r) => r.status === 'rejected')).toHaveLength(3);
  expect(results.filter((r) => r.status === 'fulfilled').map((r) => r.value)).toHaveLength(17);
});
