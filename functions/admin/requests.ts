/** The admin API's request shapes and its page-token codec; a bad request is 422 with the failing fields. */
import { z } from 'zod';
import { readAfter } from '../../shared/adapters/firestore-operator';
import { HttpError } from '../../shared/platform/errors';
import { describeIssues, idSchema, type ExecutionDoc } from '../../shared/contract/schemas';

export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success)
    throw new HttpError('invalid_request', 422, `${where} is invalid`, { issues: describeIssues(result.error) });
  return result.data;
}

export const registerExecutionSchema = z.strictObject({
  call_id: idSchema,
  job_id: idSchema,
  batch_id: idSchema.optional(),
  app: idSchema.optional(),
});

export const registerBatchSchema = z
  .strictObject({
    batch_id: idSchema,
    job_ids: z.array(idSchema).min(1).max(10_000).optional(),
    total_jobs: z.number().int().min(0).max(1_000_000).optional(),
  })
  .refine((b) => b.job_ids !== undefined || b.total_jobs !== undefined, {
    message: 'give job_ids or total_jobs',
    path: ['total_jobs'],
  })
  .refine((b) => b.job_ids === undefined || b.total_jobs === undefined || b.total_jobs === b.job_ids.length, {
    message: 'total_jobs must equal the number of job_ids',
    path: ['total_jobs'],
  })
  .refine((b) => b.job_ids === undefined || new Set(b.job_ids).size === b.job_ids.length, {
    message: 'job_ids repeat',
    path: ['job_ids'],
  });

export const activeQuerySchema = z.strictObject({
  batch_id: idSchema.optional(),
  status: z.enum(['running', 'stale']).default('running'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  page_token: z.string().max(512).optional(),
});

export const cancelSchema = z.strictObject({ reason: z.string().max(500).optional() });
export const testSchema = z.strictObject({ wait: z.boolean().default(true) });

export function pageToken(e: ExecutionDoc): string {
  return Buffer.from(JSON.stringify({ r: (e.registered_at as Date).toISOString(), c: e.call_id })).toString(
    'base64url',
  );
}

export function readPageToken(token: string | undefined): { registeredAt: Date; callId: string } | undefined {
  if (!token) return undefined;
  try {
    const { r, c } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { r: string; c: string };
    const registeredAt = new Date(r);
    if (Number.isNaN(registeredAt.getTime()) || typeof c !== 'string') throw new Error('bad token');
    return { registeredAt, callId: c };
  } catch {
    throw new HttpError('invalid_request', 422, 'page_token is not one this API returned');
  }
}

const pageTokenField = z.string().max(512).optional();

export const batchListQuerySchema = z.strictObject({
  status: z.enum(['running', 'completed']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  page_token: pageTokenField,
});

export const batchJobsQuerySchema = z.strictObject({
  status: z.enum(['pending', 'running', 'stale', 'completed', 'failed', 'timeout', 'cancelled']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  page_token: pageTokenField,
});

export const deadLetterQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  page_token: pageTokenField,
});

export const replaySchema = z.strictObject({
  ids: z
    .array(z.string().min(1).max(200))
    .min(1)
    .max(100)
    .refine((ids) => new Set(ids).size === ids.length, { message: 'ids repeat' }),
});

/** A listing's page token as given, checked: undefined when none; a 422 when it is not one this API made. */
export function listingToken(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!readAfter(value)) throw new HttpError('invalid_request', 422, 'page_token is not one this API returned');
  return value;
}
