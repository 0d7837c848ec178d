import type { ResultsLocation } from '../config/config';
import type { BlobStore } from '../ports';
import { createGcsBlobStore, createStorage } from './gcs';
import { createLocalBlobStore } from './local-files';

/** The result store the configuration names: a bucket when RESULTS_BUCKET is set, else a directory. */
export function createResultStore(location: ResultsLocation, projectId: string | undefined): BlobStore {
  return location.kind === 'gcs'
    ? createGcsBlobStore(createStorage(projectId), location.bucket)
    : createLocalBlobStore(location.dir);
}
