/** Serves a handler through the real Functions Framework server (as Cloud Functions does) on loopback. */
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { request, type Server } from 'node:http';
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
    close: () => new Promise((resolve) => {
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
export async function postSigned(baseUrl: string, body: string, options: SignedOptions): Promise<{ status: number; json: any; headers: Headers }> {
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
export function postRaw(url: string, headers: Record<string, string | number>, body: Buffer | StreamedBody): Promise<{ status: number; text: string }> {
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
