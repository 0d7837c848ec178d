/**
 * The Cloud Storage adapter with the real @google-cloud/storage client, against STORAGE_EMULATOR_HOST
 * when set (e.g. fake-gcs-server) or else the GCS JSON API test server in test/support.
 */
import { randomBytes } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { createGcsBlobStore } from '../../../../shared/adapters/gcs';
import { startGcsTestServer, type GcsTestServer } from '../../../support/gcs-server';
import { successPayload } from '../../../support/fixtures';
import { completionMessage, testWorker } from '../../../support/worker';

const external = process.env.STORAGE_EMULATOR_HOST;
let server: GcsTestServer | undefined;
let storage: Storage;
const bucket = 'omtx-results-test';

beforeAll(async () => {
  if (!external) {
    server = await startGcsTestServer();
    process.env.STORAGE_EMULATOR_HOST = server.url;
  }
  storage = new Storage({ projectId: 'demo-omtx-test', apiEndpoint: process.env.STORAGE_EMULATOR_HOST });
  if (external) await storage.createBucket(bucket).catch(() => undefined);
});

afterAll(async () => {
  await server?.close();
  if (!external) delete process.env.STORAGE_EMULATOR_HOST;
});

describe('GCS BlobStore', () => {
  (external ? it.skip : it)(
    'treats 403 for an existing object as "already stored" (create-only accounts) and keeps the first content',
    async () => {
      const store = createGcsBlobStore(storage, bucket);
      const p = path();
      server!.preconditionStatus = 403;
      try {
        expect((await store.putIfAbsent(p, Buffer.from('one'), 'text/plain')).created).toBe(true);
        expect(await store.putIfAbsent(p, Buffer.from('two'), 'text/plain')).toEqual({
          uri: `gs://${bucket}/${p}`,
          created: false,
        });
        expect((await store.get(`gs://${bucket}/${p}`))?.toString()).toBe('one');
      } finally {
        server!.preconditionStatus = 412;
      }
    },
  );

  const path = () => `jobs/job-${randomBytes(4).toString('hex')}/call-1/structure.cif`;

  it('creates an object and reads it back by its gs:// uri', async () => {
    const store = createGcsBlobStore(storage, bucket);
    const p = path();
    const written = await store.putIfAbsent(p, Buffer.from('data_x\n'), 'chemical/x-mmcif');
    expect(written).toEqual({ uri: `gs://${bucket}/${p}`, created: true });
    expect((await store.get(written.uri))?.toString()).toBe('data_x\n');
    if (server) expect(server.objects.get(`${bucket}/${p}`)?.contentType).toBe('chemical/x-mmcif');
  });

  it('never overwrites: a second write reports the object was already there and keeps the first content', async () => {
    const store = createGcsBlobStore(storage, bucket);
    const p = path();
    await store.putIfAbsent(p, Buffer.from('first'), 'text/plain');
    const again = await store.putIfAbsent(p, Buffer.from('second'), 'text/plain');
    expect(again.created).toBe(false);
    expect((await store.get(again.uri))?.toString()).toBe('first');
    if (server)
      expect(server.requests.filter((r) => r.includes('ifGenerationMatch=0')).length).toBeGreaterThanOrEqual(2);
  });

  it('returns undefined for a missing object', async () => {
    expect(
      await createGcsBlobStore(storage, bucket).get(`gs://${bucket}/nope/${randomBytes(4).toString('hex')}`),
    ).toBeUndefined();
  });

  it('stores 8 MB intact', async () => {
    const store = createGcsBlobStore(storage, bucket);
    const data = randomBytes(8 * 1024 * 1024);
    const { uri } = await store.putIfAbsent(path(), data, 'application/octet-stream');
    expect((await store.get(uri))!.equals(data)).toBe(true);
  });

  const needsOwnServer = external ? it.skip : it;
  if (external)
    process.stdout.write(
      'skipping the 503 retry test: STORAGE_EMULATOR_HOST is an external server that cannot be told to fail\n',
    );
  needsOwnServer('retries a transient 503 on a conditional write (the client treats it as idempotent)', async () => {
    const store = createGcsBlobStore(storage, bucket);
    server!.failNext(1);
    const p = path();
    await expect(store.putIfAbsent(p, Buffer.from('x'), 'text/plain')).resolves.toMatchObject({ created: true });
  });
});

describe('worker with Cloud Storage results', () => {
  it('stores structure, result.json and the batch summary in the bucket before the job completes', async () => {
    const w = testWorker({}, { results: createGcsBlobStore(storage, bucket) });
    await w.batches.doc('gcs-batch').set({ total_jobs: 1 });
    const outcome = await w.handleMessage(
      completionMessage(successPayload({ call_id: 'gcs-call', job_id: 'gcs-job', batch_id: 'gcs-batch' })),
    );
    expect(outcome).toMatchObject({ kind: 'applied', batchCompleted: true });
    const job = (await w.jobs.doc('gcs-job').get()).data()!;
    expect(job).toMatchObject({
      status: 'completed',
      structure_uri: `gs://${bucket}/jobs/gcs-job/gcs-call/structure.cif`,
      result_uri: `gs://${bucket}/jobs/gcs-job/gcs-call/result.json`,
    });
    const store = createGcsBlobStore(storage, bucket);
    expect((await store.get(job.structure_uri))?.toString()).toMatch(/^data_boltz2_prediction/);
    expect(JSON.parse((await store.get(job.result_uri))!.toString())).toMatchObject({
      job_id: 'gcs-job',
      scores: { affinity: 0.6385 },
    });
    const batch = (await w.batches.doc('gcs-batch').get()).data()!;
    expect(batch.summary_uri).toMatch(new RegExp(`^gs://${bucket}/batches/gcs-batch/summary-\\d+-\\d+\\.json$`));
    expect(JSON.parse((await store.get(batch.summary_uri))!.toString()).best_job.job_id).toBe('gcs-job');
  });
});
