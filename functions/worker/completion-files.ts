/**
 * A completion's files in the results location: the structure and `result.json` of a success, the
 * full `error.json` of a failure whose error the job document keeps only in part. Stored under the
 * call's own path and never overwritten (create-only writes), so storing them again for a
 * duplicate or a late event changes nothing.
 */
import type { Completion } from '../../shared/completion/completion';
import { documentError } from '../../shared/completion/job-document';
import type { CompletionPayload } from '../../shared/contract/schemas';
import { decodeStructure, structureOf } from '../../shared/contract/structure';
import type { BlobStore, Clock } from '../../shared/ports';

/** A stored `result.json` / `error.json`: the completion's ids and times around `content`. */
export function completionFile(
  payload: CompletionPayload,
  deliveryId: string,
  times: { receivedAt: Date; storedAt: Date },
  content: Record<string, unknown>,
): Buffer {
  const document = {
    job_id: payload.metadata.job_id,
    batch_id: payload.metadata.batch_id ?? null,
    modal_call_id: payload.call_id,
    status: payload.status,
    delivery_id: deliveryId,
    ...content,
    webhook_received_at: times.receivedAt.toISOString(),
    stored_at: times.storedAt.toISOString(),
  };
  return Buffer.from(JSON.stringify(document, null, 2));
}

export function createCompletionFiles(results: BlobStore, clock: Clock) {
  /** A failure's full error, when the job document keeps only a bounded summary of it. */
  async function storeErrorFile(
    payload: CompletionPayload,
    id: string,
    receivedAt: Date,
  ): Promise<Completion['files']> {
    if (!documentError(payload).detailsInFile) return undefined;
    const path = `jobs/${payload.metadata.job_id}/${payload.call_id}/error.json`;
    const body = completionFile(payload, id, { receivedAt, storedAt: clock() }, { error: payload.error ?? null });
    return { errorUri: (await results.putIfAbsent(path, body, 'application/json')).uri };
  }

  /** The structure and result.json. `bytes`: the structure already decoded, else it is decoded from the payload. */
  async function storeResultFiles(
    payload: CompletionPayload,
    id: string,
    receivedAt: Date,
    bytes: Buffer | undefined,
  ): Promise<Completion['files']> {
    const base = `jobs/${payload.metadata.job_id}/${payload.call_id}`;
    const encoded = payload.result?.structure_file_base64;
    const structure = bytes ? structureOf(bytes) : encoded ? decodeStructure(encoded) : undefined;
    const structureUri = structure
      ? (await results.putIfAbsent(`${base}/structure.${structure.extension}`, structure.bytes, structure.contentType))
          .uri
      : undefined;
    const { structure_file_base64: _omit, ...scores } = payload.result ?? {};
    const resultJson = completionFile(
      payload,
      id,
      { receivedAt, storedAt: clock() },
      { scores, structure_uri: structureUri ?? null, structure_format: structure?.extension ?? null },
    );
    const resultUri = (await results.putIfAbsent(`${base}/result.json`, resultJson, 'application/json')).uri;
    return { resultUri, structureUri };
  }

  /** Files first, always before the job says `completed`. */
  return function storeFiles(
    payload: CompletionPayload,
    id: string,
    receivedAt: Date,
    structure: Buffer | undefined,
  ): Promise<Completion['files']> {
    return payload.status === 'success'
      ? storeResultFiles(payload, id, receivedAt, structure)
      : storeErrorFile(payload, id, receivedAt);
  };
}
