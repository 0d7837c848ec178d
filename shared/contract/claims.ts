/**
 * The claim check's names. A body too large for a Pub/Sub message is stored under
 * `claims/{delivery_id}/{sha256 of the body}.json` in the results bucket: named by its content, so a
 * replayed or retried request stores nothing new (the create-only write finds it there). The worker
 * reads a claim only from that prefix of its own results location, whatever a message says. Pure.
 */
import { createHash } from 'node:crypto';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLAIMS_PREFIX = 'claims/';

/** Where a claim-checked body is stored, relative to the results location. */
export function claimPath(deliveryId: string, body: Buffer): string {
  return `${CLAIMS_PREFIX}${deliveryId}/${createHash('sha256').update(body).digest('hex')}.json`;
}

/** Where claims may be read from: the results bucket (or, locally, directory). */
export type ClaimsLocation = { kind: 'gcs'; bucket: string } | { kind: 'local'; dir: string };

const CLAIM_NAME = /^claims\/[A-Za-z0-9._@-]+\/[0-9a-f-]+(?:\.json)$/;

/** Whether `uri` names a claim under the results location's `claims/` prefix, and nothing else. */
export function isOwnClaimUri(uri: string, location: ClaimsLocation): boolean {
  if (location.kind === 'gcs') {
    const prefix = `gs://${location.bucket}/`;
    return uri.startsWith(prefix) && CLAIM_NAME.test(uri.slice(prefix.length)) && !uri.includes('..');
  }
  if (!uri.startsWith('file:')) return false;
  let path: string;
  try {
    path = fileURLToPath(uri);
  } catch {
    return false;
  }
  const root = resolve(location.dir) + sep;
  const full = resolve(path);
  return full.startsWith(root) && CLAIM_NAME.test(full.slice(root.length).split(sep).join('/'));
}
