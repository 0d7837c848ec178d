/**
 * A small Cloud Storage JSON API server on loopback, implementing exactly what the GCS adapter
 * uses: multipart upload with `ifGenerationMatch` (412 when the precondition fails), and media
 * download (404 when missing), with the hashes the client validates. The real
 * `@google-cloud/storage` client talks to it through STORAGE_EMULATOR_HOST.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CRC32C } from '@google-cloud/storage';

interface StoredObject {
  data: Buffer;
  contentType: string;
  generation: number;
}

export interface GcsTestServer {
  url: string;
  objects: Map<string, StoredObject>;
  requests: string[];
  /** Makes the next `n` requests answer 503, to exercise retries. */
  failNext(n: number): void;
  /**
   * The status a failed create-if-absent answers: 412, or 403 as Cloud Storage may for an account
   * that may create but not delete (overwrite) objects.
   */
  preconditionStatus: 412 | 403;
  /** While true, requests are read and never answered: a store in a brownout. */
  stalled: boolean;
  /** The most requests left hanging at once while stalled (each holds its body in the client until it gives up). */
  readonly maxHanging: number;
  close(): Promise<void>;
}

function hashes(data: Buffer) {
  const crc = new CRC32C();
  crc.update(data);
  return { md5Hash: createHash('md5').update(data).digest('base64'), crc32c: crc.toString() };
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Splits a multipart/related body into its parts' bodies. */
function multipartParts(raw: Buffer, contentType: string): Buffer[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error('no multipart boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let start = raw.indexOf(delimiter);
  while (start >= 0) {
    const next = raw.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const part = raw.subarray(start + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) parts.push(part.subarray(headerEnd + 4, part.length - 2));
    start = next;
  }
  return parts;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

export async function startGcsTestServer(): Promise<GcsTestServer> {
  let preconditionStatus: 412 | 403 = 412;
  const objects = new Map<string, StoredObject>();
  const requests: string[] = [];
  let failures = 0;
  let generation = 1000;
  let stalled = false;
  let hanging = 0;
  let maxHanging = 0;

  const resource = (bucket: string, name: string, o: StoredObject) => ({
    kind: 'storage#object',
    bucket,
    name,
    generation: String(o.generation),
    metageneration: '1',
    size: String(o.data.length),
    contentType: o.contentType,
    ...hashes(o.data),
  });

  const server = createServer(
    (req, res) =>
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        requests.push(`${req.method} ${url.pathname}${url.search}`);
        if (stalled) {
          maxHanging = Math.max(maxHanging, ++hanging);
          req.socket.once('close', () => hanging--);
          req.resume();
          return;
        }
        if (failures > 0) {
          failures--;
          json(res, 503, { error: { code: 503, message: 'Service Unavailable' } });
          return;
        }
        const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
        const object = /^(?:\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
        try {
          if (req.method === 'POST' && upload && url.searchParams.get('uploadType') === 'multipart') {
            const bucket = upload[1]!;
            const [metadataPart, media] = multipartParts(await body(req), req.headers['content-type'] ?? '');
            const metadata = JSON.parse(metadataPart!.toString()) as { name?: string; contentType?: string };
            const name = url.searchParams.get('name') ?? metadata.name!;
            const key = `${bucket}/${name}`;
            const existing = objects.get(key);
            const match = url.searchParams.get('ifGenerationMatch');
            if (match !== null && Number(match) !== (existing?.generation ?? 0)) {
              const status = preconditionStatus;
              json(res, status, {
                error: {
                  code: status,
                  message:
                    status === 412
                      ? 'At least one of the pre-conditions you specified did not hold.'
                      : 'does not have storage.objects.delete access',
                },
              });
              return;
            }
            const stored = {
              data: media!,
              contentType: metadata.contentType ?? 'application/octet-stream',
              generation: ++generation,
            };
            objects.set(key, stored);
            json(res, 200, resource(bucket, name, stored));
            return;
          }
          if (req.method === 'GET' && object) {
            const bucket = object[1]!;
            const name = decodeURIComponent(object[2]!);
            const stored = objects.get(`${bucket}/${name}`);
            if (!stored) {
              json(res, 404, { error: { code: 404, message: `No such object: ${bucket}/${name}` } });
              return;
            }
            if (url.searchParams.get('alt') === 'media') {
              const h = hashes(stored.data);
              res.writeHead(200, {
                'content-type': stored.contentType,
                'content-length': stored.data.length,
                'x-goog-hash': `crc32c=${h.crc32c},md5=${h.md5Hash}`,
                'x-goog-generation': String(stored.generation),
              });
              res.end(stored.data);
            } else {
              json(res, 200, resource(bucket, name, stored));
            }
            return;
          }
          json(res, 501, {
            error: { code: 501, message: `not implemented by the test server: ${req.method} ${url.pathname}` },
          });
        } catch (err) {
          json(res, 400, { error: { code: 400, message: String(err) } });
        }
      })(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    objects,
    requests,
    failNext: (n) => {
      failures = n;
    },
    get preconditionStatus() {
      return preconditionStatus;
    },
    set preconditionStatus(status) {
      preconditionStatus = status;
    },
    get stalled() {
      return stalled;
    },
    get maxHanging() {
      return maxHanging;
    },
    set stalled(value) {
      stalled = value;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
