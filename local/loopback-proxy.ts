import { request, type Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';

/** A service's whole answer to one request. */
export interface Forwarded {
  status: number;
  headers: IncomingHttpHeaders;
  payload: Buffer;
}

/** Sends one request, read whole, on to a service on a loopback port and reads its whole answer. */
export function forward(agent: Agent | undefined, port: number, method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Forwarded> {
  // Sent on with its length, never also as chunked.
  const { 'transfer-encoding': _chunked, ...rest } = headers;
  return new Promise((resolve, reject) => {
    const upstream = request(
      { host: '127.0.0.1', port, method, path, headers: { ...rest, 'content-length': String(body.length) }, ...(agent ? { agent } : {}) },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, payload: Buffer.concat(parts) }));
        answer.on('error', reject);
      },
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

/** Starts a proxy's server (HTTP or plain TCP) on a free loopback port and answers its endpoint. */
export async function listenOnLoopback(server: NetServer): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Stops a proxy: its own connections, and its connections to the service when it has an agent. */
export async function closeProxy(server: Server, agent?: Agent): Promise<void> {
  agent?.destroy();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
