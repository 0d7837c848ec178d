/** Serves a handler through the real Functions Framework server (as Cloud Functions does) on loopback. */
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { request, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { sign } from '../../shared/contract/signature';

let counter = 0;

export interface Served {
  url: string;
  close(): Promise<void>;
}

export async function serveHttp(handler: functions.HttpFunction): Promise<Served> {
  const name = `testHttp${++counter}`;
  functions.http(name, handler);
  return listen(getTestServer(name));
}

export async function serveCloudEvent(handler: functions.CloudEventFunction<any>): Promise<Served> {
  const name = `testEvent${++counter}`;
  functions.cloudEvent(name, handler);
  return listen(getTestServer(name));
}

async function listen(server: Server): Promise<Served> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SignedOptions {
  secret: string;
  timestamp?: number;
  path?: string;
  headers?: Record<string, string>;
  signature?: string;
}

/** POSTs `body` signed the way Modal signs it. */
export async function postSigned(
  baseUrl: string,
  body: string,
  options: SignedOptions,
): Promise<{ status: number; json: any; headers: Headers }> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const res = await fetch(baseUrl + (options.path ?? '/api/v3/webhooks/modal/completion'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Modal-Webhook/1.0',
      'x-modal-signature': options.signature ?? sign(options.secret, body),
      'x-modal-timestamp': String(timestamp),
      ...options.headers,
    },
    body,
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** A body to stream: `chunks` writes of `chunk`, without a Content-Length (chunked). */
export interface StreamedBody {
  chunks: number;
  chunk: Buffer;
}

/**
 * One raw POST to a local server, headers as given (a lying Content-Length, an encoding, chunked).
 * A server may answer a refused body before it is sent and close the connection: a request cut
 * before any answer resolves with status 0.
 */
export function postRaw(
  url: string,
  headers: Record<string, string | number>,
  body: Buffer | StreamedBody,
): Promise<{ status: number; text: string }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, method: 'POST', path: pathname, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
      res.on('error', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', () => resolve({ status: 0, text: '' }));
    if (Buffer.isBuffer(body)) return void req.end(body);
    let sent = 0;
    const write = () => {
      while (sent < body.chunks) {
        sent++;
        if (!req.write(body.chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

/** A POST's request line and headers to the completion endpoint, for `rawRequest` (blank line included). */
export function requestHead(
  headers: Record<string, string | number>,
  path = '/api/v3/webhooks/modal/completion',
): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `POST ${path} HTTP/1.1\r\nHost: x\r\n${lines.join('')}\r\n`;
}

/** What came back on a raw connection: the status line's code (0: none before the connection ended), and whether a `100 Continue` came first. */
export interface RawAnswer {
  status: number;
  continued: boolean;
  /** The connection was reset (ECONNRESET/EPIPE) before any final status arrived. */
  reset: boolean;
  text: string;
}

/**
 * Writes `head` (request line and headers, CRLF-terminated, blank line included) and then `body`
 * to a plain TCP connection, as fast as the socket takes it, and reads whatever comes back until
 * the server closes or `settleMs` pass after a final status. For shapes an HTTP client will not
 * send: pre-encoded chunks, a body that never ends, a body written in full before anything is read,
 * a body written at `bytesPerSecond` (a slow link).
 */
export function rawRequest(
  port: number,
  head: string,
  body: Buffer = Buffer.alloc(0),
  options: { settleMs?: number; waitForContinueMs?: number; readAfterWriting?: boolean; bytesPerSecond?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    // As a one-thread sender does (urllib3's sendall, then read): nothing is read until the body is written.
    if (options.readAfterWriting) socket.pause();
    let text = '';
    let reset = false;
    let done = false;
    const finalStatus = () => {
      for (const m of text.matchAll(/HTTP\/1\.1 (\d{3})/g)) if (m[1] !== '100') return Number(m[1]);
      return 0;
    };
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      const status = finalStatus();
      resolve({ status, continued: /HTTP\/1\.1 100/.test(text), reset: reset && status === 0, text });
    };
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (finalStatus() && /\r\n\r\n/.test(text.slice(text.search(/HTTP\/1\.1 [2-5]/))))
        setTimeout(finish, options.settleMs ?? 50);
    });
    socket.on('error', () => {
      reset = true;
      finish();
    });
    socket.on('close', finish);
    socket.write(head);
    const written = () => {
      if (options.readAfterWriting) socket.resume();
    };
    const send = () => {
      if (done) return;
      if (!options.bytesPerSecond) return void socket.write(body, written);
      // A slow link: 64 KiB at a time, at the given rate.
      const piece = 64 * 1024;
      let offset = 0;
      const next = () => {
        if (done) return;
        const end = Math.min(body.length, offset + piece);
        socket.write(body.subarray(offset, end), end === body.length ? written : undefined);
        offset = end;
        if (offset < body.length) setTimeout(next, (piece / options.bytesPerSecond!) * 1000);
      };
      next();
    };
    if (options.waitForContinueMs !== undefined) setTimeout(send, options.waitForContinueMs);
    else send();
  });
}

/** What the admin requires of every state-changing request (functions/admin/cross-site.ts). */
export const ADMIN_POST_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  'x-requested-by': 'omtx',
});
