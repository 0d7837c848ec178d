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

/** One dead letter as an operator sees it: from the dead-letter subscription or the collection. */
export interface DeadLetterEntry {
  /** `sub:<message id>` for the subscription, `doc:<document id>` for the collection. */
  id: string;
  source: 'subscription' | 'collection';
  reason: string;
  attributes: Record<string, string>;
  data?: Buffer;
  dataBytes: number;
  at: string | null;
}

/** Where dead letters wait: the dead-letter topic's subscription and the dead_letters collection. */
export interface DeadLetterSources {
  /**
   * Up to `limit` entries of each source. Subscription messages stay leased until `release()`
   * (which makes the unacknowledged ones available again at once) or `acknowledge(ids)`.
   */
  list(limit: number): Promise<{
    entries: DeadLetterEntry[];
    acknowledge: (ids: string[]) => Promise<void>;
    release: () => Promise<void>;
  }>;
  /** Takes a collection entry off the list once it was replayed. */
  markReplayed(id: string, at: Date): Promise<void>;
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
}

/** Current time; tests pass a fixed clock. */
export type Clock = () => Date;
