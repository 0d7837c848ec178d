/**
 * The small interfaces the handlers receive. Adapters in `shared/adapters/` implement them with
 * Google clients; nothing else imports a Google client.
 */
import type { AffinityDirection, BatchSummary, BatchTallies } from './batch/batch';
import type { Counts } from './batch/batch-counters';
import type { JobPlan } from './completion/completion';
import type { BatchDoc, ExecutionDoc, JobDoc } from './contract/schemas';

/** A Pub/Sub topic. Resolves with the message id once Pub/Sub has the message. */
export interface Publisher {
  readonly topic: string;
  publish(data: Buffer, attributes: Record<string, string>): Promise<string>;
}

/** Result files: a Cloud Storage bucket or a local directory. Writes never overwrite. */
export interface BlobStore {
  /** Creates `path` unless it exists. `created: false` means an earlier write already stored it. */
  putIfAbsent(path: string, data: Buffer, contentType: string): Promise<{ uri: string; created: boolean }>;
  /** Reads an object by the uri `putIfAbsent` returned; `undefined` when it does not exist. */
  get(uri: string): Promise<Buffer | undefined>;
}

/** A dead-lettered message, as stored in the dead-letter collection. */
export interface DeadLetter {
  id: string;
  code: string;
  reason: string;
  messageId?: string;
  attributes: Record<string, string>;
  dataBase64?: string;
  dataBytes: number;
  recordedAt: Date;
}

/** Jobs, batches and dead letters in Firestore. */
export interface JobStore {
  getJob(jobId: string): Promise<JobDoc | undefined>;
  /**
   * Runs `decide` on the stored job and writes what it says — the job update or late event, its
   * execution, and a blind increment of one of the batch's counter shards — in one atomic commit,
   * only if the job is still as read (retried on a conflict). The batch document is neither read
   * nor written, so a thousand jobs finishing at once do not contend on it.
   */
  applyToJob(jobId: string, decide: (existing: JobDoc | undefined) => JobPlan): Promise<JobPlan>;
  /** The batch document, with `completed_jobs` / `failed_jobs` the sums of its counter shards (shared/batch/batch-counters.ts). */
  getBatch(batchId: string): Promise<BatchDoc | undefined>;
  /**
   * Writes the shards' sums into the batch document's public counts, unless another writer did
   * within `intervalMs`. True when written.
   */
  rollupBatchCounts(batchId: string, now: Date, intervalMs: number): Promise<boolean>;
  /** A batch's counts and summary tallies, from its counter shards (a read of each shard, not of each job). */
  batchTallies(batchId: string): Promise<Counts & { tallies: BatchTallies }>;
  /**
   * The best `limit` completed jobs of a batch with an affinity, in the ranking order of
   * `compareRanked` (shared/batch/batch.ts): an ordered query, whatever the size of the batch.
   */
  topRankedJobs(
    batchId: string,
    direction: AffinityDirection,
    limit: number,
  ): Promise<Array<{ id: string; doc: JobDoc }>>;
  /** Terminal jobs of a batch, by the `batch_id` field: every one of them (the summary's fallback). */
  listBatchJobs(batchId: string): Promise<Array<{ id: string; doc: JobDoc }>>;
  /**
   * Claims the right to finalise a done batch, so that of all the messages that see the last count
   * only one computes the summary. A claim older than `leaseMs` (its holder crashed) can be taken
   * over; the same claimant (its message redelivered) always may. Returns the batch when claimed.
   */
  claimBatchFinalization(batchId: string, claimant: string, now: Date, leaseMs: number): Promise<BatchDoc | undefined>;
  /**
   * Marks the batch completed with `summary`, unless it already is (`already_completed`) or its
   * counters no longer equal the summary's counts (`counts_moved`: compute it again).
   */
  completeBatch(
    batchId: string,
    summary: BatchSummary,
    summaryUri: string,
    now: Date,
    claimant: string,
  ): Promise<'completed' | 'already_completed' | 'counts_moved'>;
  markBatchEventPublished(batchId: string): Promise<void>;
  /**
   * Replaces a completed batch's summary after its counters moved (a late success upgraded a failed
   * job), unless the counters have moved again since `summary` was computed. True when written.
   */
  updateBatchSummary(batchId: string, summary: BatchSummary, summaryUri: string, now: Date): Promise<boolean>;
  recordDeadLetter(entry: DeadLetter): Promise<void>;
  /** What became of a dead letter sent back (`replayed_from`): the worker's outcome, on its record. */
  recordReplayOutcome(deadLetterId: string, outcome: { kind: string; code?: string; at: Date }): Promise<void>;
  /** The last verified webhook of a Modal app (`webhook_apps/{app}`). */
  recordApp(app: string, fields: Record<string, unknown>): Promise<void>;
  /** A test delivery arrived (`webhook_tests/{job_id}`); touches no real job or batch. */
  recordTest(jobId: string, fields: Record<string, unknown>): Promise<void>;
  /** One flush of a webhook instance's counters; `id` makes a redelivered flush idempotent. */
  recordWebhookStats(id: string, stats: WebhookStatsDoc): Promise<void>;
}

/** Counts of one webhook instance over one minute. */
export interface WebhookStatsDoc {
  minute: Date;
  instance: string;
  accepted: number;
  rejected: Record<string, number>;
  by_scheme?: Record<string, number>;
}

/** What the metrics endpoint needs of one completed job. */
export interface CompletionRecord {
  status: string;
  source: string;
  latencyMs: number | null;
  /** When the job was completed; windows count only records at or after their start. */
  at?: Date;
}

export interface ExecutionRegistration {
  call_id: string;
  job_id: string;
  batch_id?: string;
  app?: string;
}

export interface BatchRegistration {
  batch_id: string;
  total_jobs: number;
  job_ids?: string[];
}

/** What the admin API reads and writes. */
export interface AdminStore {
  getJob(jobId: string): Promise<JobDoc | undefined>;
  getBatch(batchId: string): Promise<BatchDoc | undefined>;
  applyToJob(jobId: string, decide: (existing: JobDoc | undefined) => JobPlan): Promise<JobPlan>;
  getExecution(callId: string): Promise<ExecutionDoc | undefined>;
  registerExecution(input: ExecutionRegistration, now: Date): Promise<{ created: boolean; execution: ExecutionDoc }>;
  registerBatch(input: BatchRegistration, now: Date): Promise<{ created: boolean; batch: BatchDoc }>;
  /** Executions with `status`, oldest first; `after` is the last one of the previous page. */
  listExecutions(query: {
    status: string;
    batchId?: string;
    limit: number;
    after?: { registeredAt: Date; callId: string };
  }): Promise<ExecutionDoc[]>;
  listApps(): Promise<Array<Record<string, unknown>>>;
  webhookStatsSince(since: Date): Promise<WebhookStatsDoc[]>;
  completionsSince(since: Date): Promise<CompletionRecord[]>;
  countDeadLettersSince(since: Date): Promise<number>;
  /** Throws when Firestore cannot be reached. */
  ping(): Promise<void>;
  /** A test delivery's record (`webhook_tests/{job_id}`). */
  getTest(jobId: string): Promise<JobDoc | undefined>;
}

/** What the reconciler reads and writes. */
export interface ReconcilerStore {
  listExecutions: AdminStore['listExecutions'];
  /** Marks a running execution and its job `stale` (not terminal: a late webhook still applies). */
  markStale(callId: string, now: Date): Promise<void>;
  /** The reconciler's last finished pass (`heartbeats/reconciler`), what the operator page shows. */
  recordPass(summary: Record<string, unknown>, at: Date): Promise<void>;
}

/** One page of a listing, and the token of the next (none: the last page). */
export interface Page<T> {
  items: T[];
  next?: string;
}

/** A batch as the operator page lists it. */
export interface BatchListing {
  batch_id: string;
  status: string;
  total_jobs: number | null;
  completed_jobs: number;
  failed_jobs: number;
  registered_at: Date | null;
  counts_updated_at: Date | null;
  completed_at: Date | null;
  updated_at: Date | null;
}

/** A job of a batch, as the operator page lists it: ids, status, scores and error message, never files or payloads. */
export interface BatchJobListing {
  job_id: string;
  status: string;
  modal_call_id: string | null;
  affinity: number | null;
  confidence: number | null;
  error: string | null;
  updated_at: Date | null;
}

/** A dead letter as an operator sees it: ids, reason, attempts and age, never its data. */
export interface DeadLetterRecord {
  id: string;
  code: string;
  reason: string;
  delivery_id: string | null;
  job_id: string | null;
  call_id: string | null;
  attempts: number | null;
  data_bytes: number;
  /** Its data was kept (up to 512 KiB), or it points at a claim-checked body: it can be sent back. */
  replayable: boolean;
  recorded_at: Date | null;
  replayed: boolean;
  replayed_at: Date | null;
  replay_message_id: string | null;
  replay_outcome: { kind: string; code?: string; at: Date | null } | null;
}

/** What the operator page reads and the replay writes (admin API). */
export interface OperatorStore {
  /** Batches, the last changed first; `status` running or completed. */
  listBatches(query: { status?: string; limit: number; after?: string }): Promise<Page<BatchListing>>;
  listBatchJobs(
    batchId: string,
    query: { status?: string; limit: number; after?: string },
  ): Promise<Page<BatchJobListing>>;
  /** Dead letters, the newest first. */
  listDeadLetters(query: { limit: number; after?: string }): Promise<Page<DeadLetterRecord>>;
  /** One dead letter with what a replay needs: its attributes and data. */
  getDeadLetter(
    id: string,
  ): Promise<(DeadLetterRecord & { attributes: Record<string, string>; data?: Buffer }) | undefined>;
  markReplayed(id: string, replay: { at: Date; messageId: string; by: string }): Promise<void>;
  countDeadLetters(query: { replayed: boolean }): Promise<number>;
  countExecutions(status: 'running' | 'stale'): Promise<number>;
  /** The newest completions since `since`, at most `limit` (the overview's freshness window). */
  recentCompletions(since: Date, limit: number): Promise<CompletionRecord[]>;
  /** When a job of the batch last changed: its last completion, while it runs. */
  lastJobUpdate(batchId: string): Promise<Date | null>;
  /** When each function last showed it works: a webhook count, a completion applied, a reconciler pass. */
  lastActivity(): Promise<{ webhook: Date | null; worker: Date | null; reconciler: Date | null }>;
}

/** Current time; tests pass a fixed clock. */
export type Clock = () => Date;
