import { completionPayloadSchema } from '../../../../shared/contract/schemas';
import { fixture } from '../../../support/fixtures';

describe('completionPayloadSchema', () => {
  it('accepts the seed payload and keeps every field', () => {
    const seed = fixture('seed-success');
    const parsed = completionPayloadSchema.parse({
      ...seed,
      extra_top: 1,
      result: { ...seed.result, pae: 3.2 },
      metadata: { ...seed.metadata, app: 'omtx-boltz2-persistent', user: 'u1' },
    });
    expect(parsed.result).toMatchObject({ affinity: 0.6385, pae: 3.2 });
    expect(parsed.metadata).toMatchObject({ job_id: 'job-abc123', batch_id: 'batch-xyz789', user: 'u1' });
    expect((parsed as Record<string, unknown>).extra_top).toBe(1);
  });

  it.each([
    ['function.success', 'success'],
    ['function.failure', 'failure'],
    ['function.timeout', 'timeout'],
    ['timeout', 'timeout'],
  ])('normalises status %s to %s', (status, expected) => {
    expect(completionPayloadSchema.parse({ call_id: 'c', status, metadata: { job_id: 'j' } }).status).toBe(expected);
  });

  it('accepts an error given as a bare string', () => {
    expect(
      completionPayloadSchema.parse({ call_id: 'c', status: 'failure', error: 'boom', metadata: { job_id: 'j' } })
        .error,
    ).toEqual({ message: 'boom' });
  });

  it.each([
    ['call_id', { status: 'success', metadata: { job_id: 'j' } }],
    ['status', { call_id: 'c', status: 'done', metadata: { job_id: 'j' } }],
    ['metadata', { call_id: 'c', status: 'success' }],
    ['metadata.job_id', { call_id: 'c', status: 'success', metadata: {} }],
    ['metadata.job_id', { call_id: 'c', status: 'success', metadata: { job_id: '../etc' } }],
    ['call_id', { call_id: 'a/b', status: 'success', metadata: { job_id: 'j' } }],
    ['result.affinity', { call_id: 'c', status: 'success', result: { affinity: 'high' }, metadata: { job_id: 'j' } }],
    [
      'result.structure_file_base64',
      { call_id: 'c', status: 'success', result: { structure_file_base64: 'not base64!' }, metadata: { job_id: 'j' } },
    ],
    [
      'result.execution_time',
      { call_id: 'c', status: 'success', result: { execution_time: -1 }, metadata: { job_id: 'j' } },
    ],
  ])('reports the failing path %s', (path, payload) => {
    const parsed = completionPayloadSchema.safeParse(payload);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
