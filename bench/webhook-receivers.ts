/**
 * Webhook receivers for the benchmarks, on 127.0.0.1: each notes when every message first reached
 * it (by `webhook-id`) and answers 204, after a delay for a slow one.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Arrival {
  /** The event's `occurredAt`, from the body. */
  occurredAt: number;
  /** When its first try reached the receiver. */
  arrivedAt: number;
  transferId: string;
  type: string;
}

export interface BenchReceiver {
  url: string;
  /** The first arrival of each message, by `webhook-id`. */
  arrivals: Map<string, Arrival>;
  /** Every request, repeats included. */
  requests: number;
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A receiver answering 204 after `answerAfterMs` (0: at once). */
export async function startReceiver(answerAfterMs = 0): Promise<BenchReceiver> {
  const arrivals = new Map<string, Arrival>();
  let requests = 0;
  const server = createServer((request, response) => {
    const arrivedAt = Date.now();
    requests += 1;
    void bodyOf(request).then((text) => {
      const id = String(request.headers['webhook-id'] ?? '');
      const event = JSON.parse(text) as { occurredAt: string; transferId: string; type: string };
      if (!arrivals.has(id)) arrivals.set(id, { occurredAt: Date.parse(event.occurredAt), arrivedAt, transferId: event.transferId, type: event.type });
      setTimeout(() => response.writeHead(204).end(), answerAfterMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    arrivals,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
