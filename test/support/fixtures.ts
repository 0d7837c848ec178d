/** Seed payloads (test/fixtures/*.json) and builders for variations of them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Payload = Record<string, any>;

export function fixture(name: 'seed-success' | 'seed-failure' | 'seed-timeout'): Payload {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', `${name}.json`), 'utf8')) as Payload;
}

/** The seed's success payload for another job/call/batch, with scores to rank. */
export function successPayload(
  ids: { call_id: string; job_id: string; batch_id?: string | null },
  scores: Payload = {},
): Payload {
  const seed = fixture('seed-success');
  return {
    ...seed,
    call_id: ids.call_id,
    result: { ...seed.result, ...scores },
    metadata: { ...seed.metadata, job_id: ids.job_id, batch_id: ids.batch_id ?? undefined },
  };
}

export function failurePayload(
  ids: { call_id: string; job_id: string; batch_id?: string | null },
  status = 'failure',
): Payload {
  return {
    call_id: ids.call_id,
    status,
    error: { message: 'CUDA out of memory', type: 'RuntimeError' },
    metadata: { job_id: ids.job_id, batch_id: ids.batch_id ?? undefined },
  };
}
