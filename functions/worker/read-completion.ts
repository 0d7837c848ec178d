/**
 * A `completion` message read by the contract the webhook used (shared/contract/messages.ts): the
 * envelope from its attributes, the body from its data or its claim check, then the same verdict the
 * webhook reached. A large structure file comes out as bytes beside the payload (its string left
 * out of it), so that it is never held as text, parsed string and bytes at once. What can never be
 * read is a PermanentMessageError (dead-lettered).
 */
import { isOwnClaimUri, type ClaimsLocation } from '../../shared/contract/claims';
import { decodeWithStructure } from '../../shared/contract/forwarded-body';
import { decodeCompletionEnvelope, envelopeMatches, type CompletionMeta } from '../../shared/contract/messages';
import type { CompletionPayload } from '../../shared/contract/schemas';
import { PermanentMessageError } from '../../shared/platform/errors';
import type { BlobStore } from '../../shared/ports';
import { dataOf, type PubSubMessage } from './types';

export interface ReadCompletion {
  meta: CompletionMeta;
  payload: CompletionPayload;
  /** The structure file's bytes, when it was decoded straight from the body. */
  structure?: Buffer;
}

export function createCompletionReader(results: BlobStore, claims: ClaimsLocation) {
  async function readBody(message: PubSubMessage, meta: CompletionMeta): Promise<Buffer> {
    if (!meta.claimUri) return dataOf(message);
    if (!isOwnClaimUri(meta.claimUri, claims)) {
      throw new PermanentMessageError(
        'invalid_envelope',
        "claim_uri is not under the results location's claims/ prefix; it is not read",
      );
    }
    const body = await results.get(meta.claimUri);
    if (!body) throw new PermanentMessageError('claim_missing', `claim-checked body not found at ${meta.claimUri}`);
    return body;
  }

  return async function readCompletion(
    message: PubSubMessage,
    attributes: Record<string, string>,
  ): Promise<ReadCompletion> {
    const envelope = decodeCompletionEnvelope(attributes);
    if (!envelope.ok) throw new PermanentMessageError('invalid_envelope', envelope.message);
    const { verdict, structure } = decodeWithStructure(await readBody(message, envelope.meta));
    if (!verdict.ok) {
      const issues = verdict.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
      throw new PermanentMessageError(verdict.code, issues ? `${verdict.message} (${issues})` : verdict.message);
    }
    if (!envelopeMatches(envelope.meta, verdict.payload)) {
      throw new PermanentMessageError(
        'invalid_envelope',
        'delivery_id does not belong to the call and status in the body',
      );
    }
    return { meta: envelope.meta, payload: verdict.payload, ...(structure ? { structure } : {}) };
  };
}
