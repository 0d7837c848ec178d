/**
 * The small interfaces the handlers receive. Adapters in `shared/adapters/` implement them with
 * Google clients; nothing else imports a Google client.
 */
import type { BatchSummary } from './batch';
import type { BatchDelta, JobPlan } from './completion';
import type { BatchDoc, JobDoc } from './schemas';

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
   * Runs `decide` on the stored job inside a transaction and writes what it says: the job update
   * or late event, and blind increments of the batch counters (the batch document is not read, so
   * a thousand jobs finishing at once do not contend on it).
   */
  applyToJob(jobId: string, decide: (existing: JobDoc | undefined) => JobPlan): Promise<JobPlan>;
  getBatch(batchId: string): Promise<BatchDoc | undefined>;
  /** Terminal jobs of a batch, by the `batch_id` field. */
  listBatchJobs(batchId: string): Promise<Array<{ id: string; doc: JobDoc }>>;
  /**
   * Claims the right to finalise a done batch, so that of all the messages that see the last count
   * only one computes the summary. A claim older than `leaseMs` (its holder crashed) can be taken
   * over; the same claimant (its message redelivered) always may. Returns the batch when claimed.
   */
  claimBatchFinalization(batchId: string, claimant: string, now: Date, leaseMs: number): Promise<BatchDoc | undefined>;
  /** Marks the batch completed unless it already is; true for the one caller that did it. */
  completeBatch(batchId: string, summary: BatchSummary, summaryUri: string, now: Date): Promise<boolean>;
  markBatchEventPublished(batchId: string): Promise<void>;
  recordDeadLetter(entry: DeadLetter): Promise<void>;
}

export type { BatchDelta };

/** Current time; tests pass a fixed clock. */
export type Clock = () => Date;
