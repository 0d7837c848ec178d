import { planJobUpdate, type Completion } from '../../../../shared/completion/completion';
import { deliveryId } from '../../../../shared/contract/delivery';
import { completionPayloadSchema, type JobDoc } from '../../../../shared/contract/schemas';
import { failurePayload, fixture, successPayload } from '../../../support/fixtures';

const receivedAt = new Date('2026-01-01T00:00:00.000Z');
const now = new Date('2026-01-01T00:00:01.250Z');

function completion(raw: Record<string, unknown>): Completion {
  const payload = completionPayloadSchema.parse(raw);
  return {
    deliveryId: deliveryId(payload.call_id, payload.status),
    payload,
    receivedAt,
    source: 'webhook',
    files: { resultUri: 'file:///r/result.json' },
  };
}

const success = completion(fixture('seed-success'));
const failure = completion(failurePayload({ call_id: 'call-2', job_id: 'job-abc123', batch_id: 'batch-xyz789' }));
const timeout = completion(
  failurePayload({ call_id: 'call-3', job_id: 'job-abc123', batch_id: 'batch-xyz789' }, 'timeout'),
);

describe('planJobUpdate', () => {
  it('completes a new job with scores, ids, timestamps and latency, and counts it in its batch', () => {
    const plan = planJobUpdate(undefined, success, now);
    expect(plan.kind).toBe('apply');
    if (plan.kind !== 'apply') return;
    expect(plan.update).toMatchObject({
      status: 'completed',
      modal_call_id: 'call-123456789',
      batch_id: 'batch-xyz789',
      result: {
        affinity: 0.6385,
        confidence: 0.5071,
        ptm_score: 0.5423,
        iptm_score: 0.8717,
        plddt_score: 0.4159,
        execution_time: 205.3,
      },
      result_uri: 'file:///r/result.json',
      error: null,
      webhook_received_at: receivedAt,
      completed_at: now,
      updated_at: now,
      processing_latency_ms: 1250,
      batch_bucket: 'completed',
    });
    expect(plan.update.result).not.toHaveProperty('structure_file_base64');
    expect(plan.batch).toEqual({
      batchId: 'batch-xyz789',
      completed: 1,
      failed: 0,
      statuses: { completed: 1 },
      scores: {
        affinity: 0.6385,
        confidence: 0.5071,
        ptm_score: 0.5423,
        iptm_score: 0.8717,
        plddt_score: 0.4159,
        execution_time: 205.3,
      },
    });
  });

  it.each([
    ['failure', failure, 'failed'],
    ['timeout', timeout, 'timeout'],
  ] as const)('maps %s to %s and counts it as failed', (_name, c, status) => {
    const plan = planJobUpdate({ status: 'running' }, c, now);
    expect(plan).toMatchObject({ kind: 'apply', status, batch: { completed: 0, failed: 1 } });
    if (plan.kind === 'apply') expect(plan.update.error).toMatchObject({ message: expect.any(String) });
  });

  it.each(['pending', 'queued', 'running', 'stale'])('applies to a job the backend left %s', (status) => {
    expect(planJobUpdate({ status, user_id: 'u1' }, success, now).kind).toBe('apply');
  });

  it('changes nothing for the same event twice', () => {
    const plan = planJobUpdate(undefined, success, now);
    const stored: JobDoc = plan.kind === 'apply' ? plan.update : {};
    expect(planJobUpdate(stored, success, now)).toMatchObject({ kind: 'duplicate' });
  });

  it('records a failure after completed as late, and does not apply it', () => {
    const stored: JobDoc = { status: 'completed', delivery_id: success.deliveryId, batch_bucket: 'completed' };
    const plan = planJobUpdate(stored, failure, now);
    expect(plan).toMatchObject({ kind: 'late', lateEvent: { delivery_id: failure.deliveryId, status: 'failed' } });
    expect(planJobUpdate({ ...stored, late_events: [{ delivery_id: failure.deliveryId }] }, failure, now).kind).toBe(
      'duplicate',
    );
  });

  it('upgrades failed or timeout to completed when a retried call succeeds, moving the batch count', () => {
    for (const status of ['failed', 'timeout']) {
      const plan = planJobUpdate(
        { status, delivery_id: failure.deliveryId, batch_bucket: 'failed', batch_id: 'batch-xyz789' },
        success,
        now,
      );
      expect(plan).toMatchObject({
        kind: 'apply',
        status: 'completed',
        batch: { completed: 1, failed: -1, statuses: { completed: 1, [status]: -1 } },
      });
      if (plan.kind === 'apply') expect(plan.update.previous_status).toBe(status);
    }
  });

  it('does not move counters for a job the backend marked failed without counting it', () => {
    const plan = planJobUpdate({ status: 'failed' }, success, now);
    expect(plan).toMatchObject({ kind: 'apply', batch: { completed: 1, failed: 0 } });
  });

  it('records a timeout after a failure as late (the first terminal outcome stands)', () => {
    expect(planJobUpdate({ status: 'failed', delivery_id: failure.deliveryId }, timeout, now).kind).toBe('late');
  });

  it('treats cancelled as terminal', () => {
    expect(planJobUpdate({ status: 'cancelled' }, success, now).kind).toBe('late');
  });

  it('keeps the batch from the stored job when the payload has none, and counts nothing without a batch', () => {
    const noBatch = completion(successPayload({ call_id: 'c9', job_id: 'j9', batch_id: null }));
    expect(planJobUpdate({ status: 'running', batch_id: 'b-stored' }, noBatch, now)).toMatchObject({
      batch: { batchId: 'b-stored' },
    });
    const plan = planJobUpdate(undefined, noBatch, now);
    expect(plan.kind === 'apply' && plan.batch).toBe(undefined);
  });
});
