/**
 * Integration tests share one Pub/Sub and one Firestore emulator: started here (or the running ones
 * named by PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST are used) and stopped in global-teardown.
 * Test files isolate themselves with their own collection names and topics.
 */
import { startEmulators, type Emulators } from '../../scripts/local/emulators';

export const TEST_PROJECT = 'demo-omtx-test';

export default async function globalSetup(): Promise<void> {
  process.env.GOOGLE_CLOUD_PROJECT ??= TEST_PROJECT;
  process.env.METADATA_SERVER_DETECTION = 'none';
  const started = Date.now();
  const emulators = await startEmulators(process.env.GOOGLE_CLOUD_PROJECT);
  Object.assign(process.env, emulators.env);
  (globalThis as { __emulators?: Emulators }).__emulators = emulators;
  process.stdout.write(
    `\nemulators: pubsub ${emulators.env.PUBSUB_EMULATOR_HOST}, firestore ${emulators.env.FIRESTORE_EMULATOR_HOST}` +
      ` (${emulators.owned.length ? `started ${emulators.owned.join(' + ')} in ${Date.now() - started} ms` : 'already running'})\n`,
  );
}
