/**
 * BlobStore on Cloud Storage. Objects are created with `ifGenerationMatch: 0`, so a retried write
 * never replaces what an earlier attempt stored (HTTP 412 — or 403 for an account without delete
 * permission — means it is already there).
 */
import { Storage } from '@google-cloud/storage';
import type { BlobStore } from '../ports';

/** How long one store's calls may take: each request, and all its retries together. */
export interface StoreDeadline {
  /** One HTTP request to Cloud Storage. */
  requestTimeoutMs: number;
  /** Every attempt of one call together (the client's default is 600 s). */
  totalTimeoutMs: number;
}

export function createStorage(projectId: string | undefined, deadline?: StoreDeadline): Storage {
  return new Storage({
    ...(projectId ? { projectId } : {}),
    ...(deadline
      ? {
          // The client's own timeout: it replaces any per-call one. Storage 8 passes it to a fetch
          // that ignores it (googleapis/google-cloud-node#7998), hence 7 (package.json).
          timeout: deadline.requestTimeoutMs,
          // Counted in seconds by the client.
          retryOptions: { totalTimeout: Math.max(1, Math.ceil(deadline.totalTimeoutMs / 1000)), maxRetries: 3 },
        }
      : {}),
  });
}

function parseGsUri(uri: string): { bucket: string; name: string } {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`not a gs:// uri: ${uri}`);
  return { bucket: match[1]!, name: match[2]! };
}

function status(err: unknown): number | undefined {
  const e = err as { code?: unknown; response?: { status?: number } };
  return typeof e.code === 'number' ? e.code : e.response?.status;
}

export function createGcsBlobStore(storage: Storage, bucketName: string): BlobStore {
  const bucket = storage.bucket(bucketName);
  return {
    async putIfAbsent(path, data, contentType) {
      const uri = `gs://${bucketName}/${path}`;
      const file = bucket.file(path);
      try {
        await file.save(data, {
          resumable: false,
          contentType,
          preconditionOpts: { ifGenerationMatch: 0 },
        });
        return { uri, created: true };
      } catch (err) {
        if (status(err) === 412) return { uri, created: false };
        // An account that may create but not delete objects can get 403 instead of 412 for an
        // object that exists: ask whether it does (reading metadata needs only objects.get).
        if (status(err) === 403 && (await file.exists())[0]) return { uri, created: false };
        throw err;
      }
    },
    async get(uri) {
      const { bucket: name, name: object } = parseGsUri(uri);
      try {
        const [contents] = await storage.bucket(name).file(object).download();
        return contents;
      } catch (err) {
        if (status(err) === 404) return undefined;
        throw err;
      }
    },
  };
}
