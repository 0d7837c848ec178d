/**
 * Preloaded (`node --require`) into each function process of the local stack: the stack holds the
 * other end of the process's standard input, so when the stack's process ends — however it ended,
 * `kill -9` included — the input closes and the function exits with it. Nothing of this runs in
 * production: the deployed functions are started by Cloud Functions, without it.
 */
const leave = () => process.exit(0);
process.stdin.on('data', () => undefined);
process.stdin.on('end', leave);
process.stdin.on('close', leave);
process.stdin.on('error', leave);
