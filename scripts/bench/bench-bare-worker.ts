/**
 * The benchmark's baseline for the worker: a bare CloudEvent handler that decodes the pushed
 * message and makes the least Firestore calls a completion could — one read of the job, one commit
 * — served in its own process like the real worker (`npm run bench -- --only worker`).
 */
import * as functions from '@google-cloud/functions-framework';
import { Firestore } from '@google-cloud/firestore';

const db = new Firestore({ projectId: process.env.GOOGLE_CLOUD_PROJECT });
const jobs = db.collection(process.env.JOBS_COLLECTION ?? 'jobs');

interface Pushed {
  message?: { data?: string };
}

functions.cloudEvent<Pushed>('bareWorker', async (event: functions.CloudEvent<Pushed>) => {
  const payload = JSON.parse(Buffer.from(event.data?.message?.data ?? '', 'base64').toString('utf8')) as {
    status: string;
    metadata: { job_id: string };
  };
  const ref = jobs.doc(payload.metadata.job_id);
  const existing = await ref.get();
  await ref.set({ status: payload.status, seen_before: existing.exists, updated_at: new Date() });
});
