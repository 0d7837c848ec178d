/**
 * The admin API as the page calls it: same origin, JSON, and every state-changing call with the
 * header and content type the admin requires of it (functions/admin/cross-site.ts).
 */

const API = '/api/v3/webhooks';

export interface Signal {
  name: string;
  state: 'ok' | 'warn' | 'fail';
  detail: string;
}
export interface Overview {
  generated_at: string;
  health: { verdict: string; signals: Signal[] };
  activity: Record<string, { at: string | null; age_seconds: number | null }>;
  backlog: { running_executions: number; stale_executions: number };
  dead_letters: { waiting: number; replayed: number };
  apps: Array<{ app: string; state: string; detail: string; last_verified_at: string | null }>;
}
export interface Progress {
  total: number | null;
  completed: number;
  failed: number;
  pending: number | null;
  rate_per_minute: number | null;
  since_last_completion_seconds: number | null;
}
export interface BatchRow {
  batch_id: string;
  status: string;
  registered_at: string | null;
  completed_at: string | null;
  progress: Progress;
}
export interface JobRow {
  job_id: string;
  status: string;
  modal_call_id: string | null;
  affinity: number | null;
  confidence: number | null;
  error: string | null;
  updated_at: string | null;
}
export interface DeadLetterRow {
  id: string;
  code: string;
  reason: string;
  delivery_id: string | null;
  job_id: string | null;
  attempts: number | null;
  replayable: boolean;
  age_seconds: number | null;
  replayed: boolean;
  replayed_at: string | null;
  replay_outcome: { kind: string; code?: string; at: string | null } | null;
}
export interface ExecutionRow {
  call_id: string;
  job_id: string;
  batch_id: string | null;
  app: string | null;
  status: string;
  age_seconds: number | null;
}
export interface RankedJob {
  job_id: string;
  affinity: number | null;
  confidence: number | null;
}
export interface BatchDetail {
  batch_id: string;
  status?: string;
  total_jobs?: number;
  completed_jobs?: number;
  failed_jobs?: number;
  registered_at?: string;
  completed_at?: string;
  summary?: { success_rate?: number; mean_scores?: Record<string, number | null>; ranking?: RankedJob[] };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => ({}))) as { message?: string; error?: string };
  if (!res.ok) throw new ApiError(res.status, `${res.status} ${body.error ?? ''}: ${body.message ?? res.statusText}`);
  return body as T;
}

export const getJson = async <T>(path: string): Promise<T> =>
  answer<T>(await fetch(API + path, { headers: { Accept: 'application/json' } }));

/** A state-changing call: the header and content type the admin requires of every one (cross-site.ts). */
export const postJson = async <T>(path: string, body: unknown): Promise<T> =>
  answer<T>(
    await fetch(API + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Requested-By': 'omtx', Accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  );
