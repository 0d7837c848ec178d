import type { ResultsLocation } from '../config/config';
import type { BlobStore } from '../ports';
import { createGcsBlobStore, createStorage, type StoreDeadline } from './gcs';
import { createLocalBlobStore } from './local-files';

/**
 * The result store the configuration names: a bucket when RESULTS_BUCKET is set, else a directory.
 * `deadline`: how long a call may take, retries included (the webhook's claim checks: its publish
 * deadline); else the client's defaults.
 */
export function createResultStore(
  location: ResultsLocation,
  projectId: string | undefined,
  deadline?: StoreDeadline,
): BlobStore {
  return location.kind === 'gcs'
    ? createGcsBlobStore(createStorage(projectId, deadline), location.bucket)
    : createLocalBlobStore(location.dir);
}
