// Every integration test file talks to the emulators only, never to a metadata server.
process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GOOGLE_CLOUD_PROJECT ??= 'demo-omtx-test';
