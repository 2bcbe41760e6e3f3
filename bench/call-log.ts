/**
 * The AWS calls the functions make, as the benchmarks' proxies see them: which function made each
 * (the local twin puts the function's name in the SDK's User-Agent, `app/<name>`), to which service,
 * which operation, and when it started and ended. On AWS each call is a network round trip, so the
 * calls a request makes one after another are the latency it cannot avoid.
 */
import { Agent, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { closeProxy, forward, listenOnLoopback, type Forwarded } from '../local/loopback-proxy.ts';

export interface AwsCall {
  service: 'dynamodb' | 'ses' | 'sfn';
  operation: string;
  /** The function that made the call, from `app/<name>` in its User-Agent; '' when unknown. */
  app: string;
  /** performance.now() when the request reached the proxy and when its answer left it. */
  start: number;
  end: number;
  status: number;
}

export class AwsCallLog {
  readonly calls: AwsCall[] = [];

  record(call: AwsCall): void {
    this.calls.push(call);
  }

  /** The calls one function made that started within a window (performance.now() times). */
  by(app: string, from: number, to: number): AwsCall[] {
    return this.calls.filter((call) => call.app === app && call.start >= from && call.start <= to);
  }
}

/** The function named in a User-Agent's `app/<name>` part (Powertools appends its own `-PT-…` mark to it). */
export function appOf(headers: IncomingHttpHeaders): string {
  const agent = [headers['user-agent'], headers['x-amz-user-agent']].flat().join(' ');
  return (/(?:^|\s)app\/([\w.-]+)/.exec(agent)?.[1] ?? '').replace(/-PT-.*$/, '');
}

/**
 * How many of the calls ran one after another: the longest chain of calls each starting after the
 * one before it ended (calls that overlap were made in parallel and count once).
 */
export function sequentialCalls(calls: readonly AwsCall[]): number {
  let count = 0;
  let lastEnd = Number.NEGATIVE_INFINITY;
  for (const call of [...calls].sort((a, b) => a.end - b.end)) {
    if (call.start >= lastEnd) {
      count += 1;
      lastEnd = call.end;
    }
  }
  return count;
}

/** The operation an AWS request names: the JSON protocol's X-Amz-Target, or SES v2's REST path. */
export function operationOf(method: string, path: string, headers: IncomingHttpHeaders): string {
  const target = headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').pop() ?? target;
  if (method === 'POST' && path.startsWith('/v2/email/outbound-emails')) return 'SendEmail';
  return `${method} ${path.split('?')[0] ?? ''}`;
}

/** A pass-through proxy in front of one service (the SES emulator, the local Step Functions API) that logs each call. */
export class CallRecorder {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });
  private readonly server: Server;
  endpoint = '';
  /** Holds each request this long before passing it on: a stand-in for a network round trip. */
  holdMs = 0;

  private constructor(
    service: AwsCall['service'],
    private readonly targetPort: number,
    log: AwsCallLog,
  ) {
    this.server = callLoggingServer(service, log, () => this.holdMs, (request) =>
      forward(this.agent, this.targetPort, request.method, request.path, request.headers, request.body),
    );
  }

  static async start(service: AwsCall['service'], targetPort: number, log: AwsCallLog): Promise<CallRecorder> {
    const recorder = new CallRecorder(service, targetPort, log);
    recorder.endpoint = await listenOnLoopback(recorder.server);
    return recorder;
  }

  close(): Promise<void> {
    return closeProxy(this.server, this.agent);
  }
}

/** One request as a proxy received it. */
export interface ProxiedRequest {
  /** Epoch ms when it arrived. */
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A proxy's server: reads each request, holds it `holdMs()`, has `relay` pass it on, logs the call
 * (service, operation, calling function, start and end) and answers with what came back.
 */
export function callLoggingServer(service: AwsCall['service'], log: AwsCallLog, holdMs: () => number, relay: (request: ProxiedRequest) => Promise<Forwarded>): Server {
  return createServer((incoming, outgoing) => {
    const at = Date.now();
    const start = performance.now();
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const request: ProxiedRequest = { at, method: incoming.method ?? 'POST', path: incoming.url ?? '/', headers: incoming.headers, body: Buffer.concat(chunks) };
      delay(holdMs())
        .then(() => relay(request))
        .then(({ status, headers, payload }) => {
          log.record({ service, operation: operationOf(request.method, request.path, request.headers), app: appOf(request.headers), start, end: performance.now(), status });
          outgoing.writeHead(status, headers);
          outgoing.end(payload);
        })
        .catch(() => {
          if (!outgoing.headersSent) outgoing.writeHead(502);
          outgoing.end();
        });
    });
  });
}

