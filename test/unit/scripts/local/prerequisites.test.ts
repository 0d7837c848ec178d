/** What the emulators' failure output says is missing, in one line with the command that installs it. */
import { missingPrerequisiteIn } from '../../../../scripts/local/emulators';

it.each([
  [
    'spawn gcloud ENOENT',
    /Google Cloud SDK is not installed .*gcloud components install pubsub-emulator cloud-firestore-emulator beta/,
  ],
  [
    'ERROR: (gcloud.beta.emulators.pubsub.start) To use the Google Cloud Pub/Sub emulator, a Java 7+ JRE must be installed and on your system PATH',
    /need Java 17 on PATH: apt-get install openjdk-17-jre-headless/,
  ],
  [
    'Exception in thread "main" java.lang.UnsupportedClassVersionError: com/google/cloud/datastore/emulator/firestore/CloudFirestore has been compiled by a more recent version',
    /need Java 17/,
  ],
  [
    'ERROR: (gcloud.emulators.firestore.start) You do not currently have this command group installed. … $ gcloud components install cloud-firestore-emulator',
    /emulator component of the Google Cloud SDK is missing: gcloud components install/,
  ],
])('names what is missing in %j', (output, message) => {
  expect(missingPrerequisiteIn(output)?.message).toMatch(message);
});

it('says nothing for a failure that is not a missing prerequisite', () => {
  expect(missingPrerequisiteIn('java.net.BindException: Address already in use')).toBeUndefined();
});
