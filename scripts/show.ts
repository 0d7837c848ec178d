/**
 * `npm run show -- jobs/job-1` (or `batches/batch-1`, `dead_letters`): prints Firestore documents
 * as stored, from the running `npm start` (found by itself), the emulator named by
 * FIRESTORE_EMULATOR_HOST, or the project named by GOOGLE_CLOUD_PROJECT.
 */
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { useLocalStack } from './local-state';

function plain(value: unknown): unknown {
  if (value instanceof Timestamp) return value.toDate().toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path || path === '--help') {
    process.stderr.write('usage: npm run show -- <collection>[/<document id>]   e.g. jobs/job-1, batches/batch-1, dead_letters\n');
    process.exit(2);
  }
  useLocalStack('show');
  const db = new Firestore({ projectId: process.env.GOOGLE_CLOUD_PROJECT || 'demo-omtx-local' });
  const segments = path.split('/').filter(Boolean);
  if (segments.length % 2 === 0) {
    const snap = await db.doc(path).get();
    if (!snap.exists) {
      process.stderr.write(`${path}: no such document\n`);
      process.exit(1);
    }
    process.stdout.write(JSON.stringify(plain(snap.data()), null, 2) + '\n');
  } else {
    const snap = await db.collection(path).limit(100).get();
    for (const doc of snap.docs) process.stdout.write(JSON.stringify({ id: doc.id, ...(plain(doc.data()) as object) }) + '\n');
  }
  await db.terminate();
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
