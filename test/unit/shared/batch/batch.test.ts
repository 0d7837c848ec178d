import { isBatchDone, summarizeBatch } from '../../../../shared/batch/batch';
import type { JobDoc } from '../../../../shared/contract/schemas';

const job = (id: string, status: string, affinity?: number, confidence?: number): { id: string; doc: JobDoc } => ({
  id,
  doc: {
    status,
    modal_call_id: `call-${id}`,
    result: affinity === undefined ? null : { affinity, confidence, ptm_score: 0.5, execution_time: 100 },
    result_uri: `gs://b/${id}`,
  },
});

describe('isBatchDone', () => {
  it.each([
    [undefined, false],
    [{ completed_jobs: 3 }, false],
    [{ total_jobs: 3, completed_jobs: 2 }, false],
    [{ total_jobs: 3, completed_jobs: 2, failed_jobs: 1 }, true],
    [{ total_jobs: 3, completed_jobs: 4 }, true],
    [{ total_jobs: 0 }, true],
  ])('%j → %s', (batch, done) => {
    expect(isBatchDone(batch)).toBe(done);
  });
});

describe('summarizeBatch', () => {
  const jobs = [
    job('a', 'completed', 0.5, 0.9),
    job('b', 'completed', 0.8, 0.1),
    job('c', 'completed', 0.8, 0.7),
    job('d', 'failed'),
    job('e', 'timeout'),
    job('f', 'completed'),
  ];
  const batch = { total_jobs: 6, completed_jobs: 4, failed_jobs: 2 };

  it('ranks by affinity, higher first by default, ties broken by confidence', () => {
    const summary = summarizeBatch('b1', batch, jobs, { direction: 'higher', rankingSize: 10 });
    expect(summary.ranking.map((r) => [r.rank, r.job_id])).toEqual([
      [1, 'c'],
      [2, 'b'],
      [3, 'a'],
    ]);
    expect(summary.best_job).toMatchObject({
      job_id: 'c',
      affinity: 0.8,
      confidence: 0.7,
      result_uri: 'gs://b/c',
      modal_call_id: 'call-c',
    });
  });

  it('ranks lower-is-better when configured', () => {
    const summary = summarizeBatch('b1', batch, jobs, { direction: 'lower', rankingSize: 2 });
    expect(summary.ranking.map((r) => r.job_id)).toEqual(['a', 'c']);
  });

  it('counts outcomes and averages the scores of completed jobs', () => {
    const summary = summarizeBatch('b1', batch, jobs, { direction: 'higher', rankingSize: 10 });
    expect(summary).toMatchObject({
      batch_id: 'b1',
      total_jobs: 6,
      completed_jobs: 4,
      failed_jobs: 2,
      timeout_jobs: 1,
      success_rate: 0.6667,
    });
    expect(summary.mean_scores.affinity).toBeCloseTo(0.7, 6);
    expect(summary.mean_scores.ptm_score).toBe(0.5);
    expect(summary.mean_scores.iptm_score).toBeNull();
  });

  it('has no best job when nothing completed', () => {
    const summary = summarizeBatch('b2', { total_jobs: 1, failed_jobs: 1 }, [job('x', 'failed')], {
      direction: 'higher',
      rankingSize: 10,
    });
    expect(summary.best_job).toBeNull();
    expect(summary.ranking).toEqual([]);
    expect(summary.success_rate).toBe(0);
  });
});
