/** The send-webhook CLI's argument handling and the payload it builds. */
import { buildPayload, joinNegativeValues } from '../../../../scripts/tools/send-webhook';
import { fixture } from '../../../support/fixtures';

it.each([
  [['--skew', '-600'], ['--skew=-600']],
  [
    ['--skew', '-600', '--tamper'],
    ['--skew=-600', '--tamper'],
  ],
  [['--skew=-600'], ['--skew=-600']],
  [
    ['--skew', '30'],
    ['--skew', '30'],
  ],
  [
    ['--job-id', '-x'],
    ['--job-id', '-x'],
  ],
])('joins a negative value to its option: %j → %j', (argv, expected) => {
  expect(joinNegativeValues(argv, ['skew'])).toEqual(expected);
});

const seed = fixture('seed-success') as Record<string, any>;

it('sends the seed sample as it is by default, naming the app', () => {
  const p = buildPayload(seed, { app: 'omtx-local' });
  expect(p).toMatchObject({
    call_id: 'call-123456789',
    status: 'success',
    metadata: { job_id: 'job-abc123', batch_id: 'batch-xyz789', app: 'omtx-local' },
  });
});

it('gives another job its own call and no batch, and a failure an error instead of the sample result', () => {
  const p = buildPayload(seed, { jobId: 'job-7', status: 'failure' });
  expect(p.call_id).toBe('call-job-7');
  expect(p.metadata.batch_id).toBeUndefined();
  expect(p.result).toBeUndefined();
  expect(p.error).toEqual({ message: 'CUDA out of memory', type: 'RuntimeError' });
  expect(buildPayload(seed, { jobId: 'job-8', batchId: 'batch-2', callId: 'c-8' })).toMatchObject({
    call_id: 'c-8',
    metadata: { job_id: 'job-8', batch_id: 'batch-2' },
  });
  expect(seed.metadata.job_id).toBe('job-abc123');
});
