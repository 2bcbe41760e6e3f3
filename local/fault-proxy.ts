import { createServer, connect, type Server, type Socket } from 'node:net';
import { listenOnLoopback } from './loopback-proxy.ts';

/**
 * A TCP proxy in front of a local emulator that can be made unreachable and reachable again, so
 * tests can show what the system does when DynamoDB or SES is briefly down.
 */
export interface FaultProxy {
  /** The endpoint to give the SDK instead of the emulator's. */
  endpoint: string;
  /** Refuses new connections and cuts open ones until `restore()`. */
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  const endpoint = await listenOnLoopback(server);
  return {
    endpoint,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      cut = false;
    },
    get isCut() {
      return cut;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
