import { createStatsBuffer } from '../../../../shared/observability/stats';

const t = (iso: string) => new Date(iso);

describe('createStatsBuffer', () => {
  it('counts per minute and hands the counts over once the interval has passed', () => {
    const stats = createStatsBuffer(30_000, 'abc123');
    stats.count('accepted', t('2026-01-01T10:00:05Z'));
    stats.count('accepted', t('2026-01-01T10:00:50Z'));
    stats.count('bad_signature', t('2026-01-01T10:01:02Z'));
    expect(stats.takeIfDue(t('2026-01-01T10:01:03Z'))).toEqual({
      instance: 'abc123',
      seq: 0,
      minutes: {
        '2026-01-01T10:00:00.000Z': { accepted: 2, rejected: {} },
        '2026-01-01T10:01:00.000Z': { accepted: 0, rejected: { bad_signature: 1 } },
      },
    });
    stats.count('accepted', t('2026-01-01T10:01:10Z'));
    expect(stats.takeIfDue(t('2026-01-01T10:01:20Z'))).toBeUndefined();
    expect(stats.takeIfDue(t('2026-01-01T10:01:34Z'))).toMatchObject({
      seq: 1,
      minutes: { '2026-01-01T10:01:00.000Z': { accepted: 1 } },
    });
  });

  it('sends nothing when nothing was counted', () => {
    expect(createStatsBuffer(0).takeIfDue(new Date())).toBeUndefined();
  });
});
