/**
 * `npm run show -- jobs/job-1` (or `batches/batch-1`, `dead_letters`): prints Firestore documents
 * as stored, from the running `npm start` (found by itself), the emulator named by
 * FIRESTORE_EMULATOR_HOST, or the project named by GOOGLE_CLOUD_PROJECT.
 */
import { createFirestore } from '../../shared/adapters/firestore-documents';
import { readPath } from '../../shared/adapters/firestore-admin';
import { useLocalStack } from '../local/local-state';

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path || path === '--help') {
    process.stderr.write(
      'usage: npm run show -- <collection>[/<document id>]   e.g. jobs/job-1, batches/batch-1, dead_letters\n',
    );
    process.exit(2);
  }
  useLocalStack('show');
  const db = createFirestore(
    process.env.GOOGLE_CLOUD_PROJECT || 'demo-omtx-local',
    process.env.FIRESTORE_DATABASE || '(default)',
  );
  const found = await readPath(db, path);
  if (found.kind === 'missing') {
    process.stderr.write(`${path}: no such document\n`);
    process.exitCode = 1;
  } else if (found.kind === 'document') {
    process.stdout.write(JSON.stringify(found.data, null, 2) + '\n');
  } else {
    for (const doc of found.docs) process.stdout.write(JSON.stringify(doc) + '\n');
  }
  await db.terminate();
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
