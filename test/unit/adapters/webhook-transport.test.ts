import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, Socket, type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HttpWebhookTransport, ResolvingWebhookTargets, webhookTargets, webhookTransport } from '../../../lambdas/adapters/webhook-transport.ts';
import { RESPONSE_EXCERPT_BYTES, WEBHOOK_TIMEOUT_MS } from '../../../lambdas/domain/webhook-targets.ts';

// Every server here listens on 127.0.0.1; a refusal of any other address is proved without connecting to it.

const HOST = 'hooks.partner.example';
const BODY = JSON.stringify({ id: 'evt_1', type: 'transfer.released' });
const HEADERS = { 'webhook-id': 'evt_1', 'webhook-timestamp': '1773154800', 'webhook-signature': 'v1,abc=', 'content-type': 'application/json' };

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Listening {
  port: number;
  connections: number;
}

const servers: Server[] = [];

async function listen(server: Server): Promise<Listening> {
  servers.push(server);
  const state = { port: 0, connections: 0 };
  server.on('connection', () => state.connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  return state;
}

/** An HTTP receiver on loopback that records each request and answers with `answer`. */
async function receiver(answer: (response: ServerResponse, request: IncomingMessage) => void): Promise<Listening & { requests: Received[] }> {
  const requests: Received[] = [];
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(response, request);
    });
  });
  return Object.assign(await listen(server), { requests });
}

/** A TCP server on loopback that only counts connections (and keeps the first bytes it gets). */
async function counter(): Promise<Listening & { firstBytes: Buffer[] }> {
  const firstBytes: Buffer[] = [];
  const server = createNetServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      firstBytes.push(chunk);
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    });
    socket.on('error', () => undefined);
  });
  return Object.assign(await listen(server as unknown as Server), { firstBytes });
}

/** Fails the test (and stops the connection) if anything opens a socket. */
function forbidConnections() {
  return vi.spyOn(Socket.prototype, 'connect').mockImplementation(() => {
    throw new Error('this test must not open a connection');
  });
}

function stub(...answers: string[][]) {
  const calls: string[] = [];
  const resolve = (host: string) => {
    calls.push(host);
    return Promise.resolve(answers[calls.length - 1] ?? answers.at(-1) ?? []);
  };
  return { calls, resolve };
}

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

describe('HttpWebhookTransport delivering to a loopback receiver', () => {
  const local = new HttpWebhookTransport({ allowPrivate: true });

  it('posts the body with the given headers and its length; a 200 is ok, with the start of the answer', async () => {
    const target = await receiver((response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'));
    const attempt = await local.post(`http://127.0.0.1:${target.port}/transfers?team=ops`, HEADERS, BODY);
    expect(attempt).toEqual({ ok: true, status: 200, error: null, excerpt: 'thanks', durationMs: expect.any(Number) });
    expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
    expect(target.requests).toHaveLength(1);
    const [request] = target.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/transfers?team=ops');
    expect(request?.body).toBe(BODY);
    expect(request?.headers).toMatchObject({ ...HEADERS, 'content-length': String(Buffer.byteLength(BODY)), host: `127.0.0.1:${target.port}` });
  });

  it('counts any 2xx as ok, with an empty excerpt when there is no body', async () => {
    const target = await receiver((response) => response.writeHead(204).end());
    expect(await local.post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY)).toMatchObject({ ok: true, status: 204, error: null, excerpt: '' });
  });

  it('reports a 500 as a failure with its status and the start of the answer', async () => {
    const target = await receiver((response) => response.writeHead(500).end('database down'));
    expect(await local.post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY)).toMatchObject({
      ok: false,
      status: 500,
      error: 'The endpoint answered 500.',
      excerpt: 'database down',
    });
  });

  it('never follows a redirect: a 302 is a failure and its Location is not visited', async () => {
    const elsewhere = await counter();
    const target = await receiver((response) => response.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end());
    const attempt = await local.post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY);
    expect(attempt).toMatchObject({ ok: false, status: 302, error: 'The endpoint answered 302, a redirect; redirects are not followed.' });
    expect(target.requests).toHaveLength(1);
    expect(elsewhere.connections).toBe(0);
  });

  it(`keeps only the first ${RESPONSE_EXCERPT_BYTES} bytes of the answer, as text without control characters`, async () => {
    const long = await receiver((response) => response.writeHead(200).end('x'.repeat(10_000)));
    expect((await local.post(`http://127.0.0.1:${long.port}/`, HEADERS, BODY)).excerpt).toBe('x'.repeat(RESPONSE_EXCERPT_BYTES));

    const controls = await receiver((response) => response.writeHead(400).end('line one\r\nline\ttwo\u0000\u001b[31m\u202eend'));
    expect((await local.post(`http://127.0.0.1:${controls.port}/`, HEADERS, BODY)).excerpt).toBe('line one  line two  [31m end');

    // 1 + 2 × 127 bytes, then the first byte of a two-byte character: the cut shows as a replacement character.
    const cut = await receiver((response) => response.writeHead(200).end(`a${'é'.repeat(200)}`));
    expect((await local.post(`http://127.0.0.1:${cut.port}/`, HEADERS, BODY)).excerpt).toBe(`a${'é'.repeat(127)}\uFFFD`);
  });

  it('stops reading an answer that never ends once it has the excerpt, and closes the connection', async () => {
    let closed = false;
    const target = await receiver((response, request) => {
      response.writeHead(200);
      const timer = setInterval(() => response.write('y'.repeat(64)), 5);
      request.socket.on('close', () => {
        clearInterval(timer);
        closed = true;
      });
    });
    const attempt = await new HttpWebhookTransport({ allowPrivate: true, timeoutMs: 5_000 }).post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY);
    expect(attempt).toMatchObject({ ok: true, status: 200, excerpt: 'y'.repeat(RESPONSE_EXCERPT_BYTES) });
    expect(attempt.durationMs).toBeLessThan(5_000);
    await vi.waitFor(() => expect(closed).toBe(true));
  });

  it('gives up on a receiver that does not answer within the time limit', async () => {
    const target = await receiver(() => undefined);
    const attempt = await new HttpWebhookTransport({ allowPrivate: true, timeoutMs: 200 }).post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY);
    expect(attempt).toMatchObject({ ok: false, status: null, error: 'No answer within 0.2 s.', excerpt: '' });
    expect(attempt.durationMs).toBeGreaterThanOrEqual(150);
    expect(attempt.durationMs).toBeLessThan(5_000);
  });

  it('keeps the status of a receiver that answers in time but never finishes its body', async () => {
    const target = await receiver((response) => {
      response.writeHead(202);
      response.write('accepted, thinking');
    });
    const attempt = await new HttpWebhookTransport({ allowPrivate: true, timeoutMs: 300 }).post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY);
    expect(attempt).toMatchObject({ ok: true, status: 202, error: null, excerpt: 'accepted, thinking' });
  });

  it(`waits ${WEBHOOK_TIMEOUT_MS} ms by default, and not one less`, async () => {
    expect(new HttpWebhookTransport({ allowPrivate: true }).timeoutMs).toBe(10_000);
    let arrived = () => {};
    const delivered = new Promise<void>((resolve) => (arrived = resolve));
    const target = await receiver(() => arrived());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let attempt: unknown;
    const pending = new HttpWebhookTransport({ allowPrivate: true }).post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY).then((done) => (attempt = done));
    // The request reaches the receiver in real time; only the transport's own clock is faked.
    await delivered;
    await vi.advanceTimersByTimeAsync(9_999);
    expect(attempt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await pending;
    expect(attempt).toMatchObject({ ok: false, status: null, error: 'No answer within 10 s.' });
  });

  it('reports a refused connection in a sentence', async () => {
    const closed = await receiver(() => undefined);
    const port = closed.port;
    await new Promise((resolve) => servers.splice(0)[0]?.close(resolve));
    expect(await local.post(`http://127.0.0.1:${port}/`, HEADERS, BODY)).toMatchObject({ ok: false, status: null, error: 'The connection was refused.' });
  });
});

describe('HttpWebhookTransport refusing targets inside the network', () => {
  const deployed = new HttpWebhookTransport({ allowPrivate: false });

  it('refuses http and loopback URLs without connecting', async () => {
    const target = await counter();
    const connect = forbidConnections();
    for (const [url, error] of [
      [`http://127.0.0.1:${target.port}/`, 'The URL must use https.'],
      [`https://127.0.0.1:${target.port}/`, "The URL's host 127.0.0.1 is an IP address which is not a public address."],
      [`https://[::ffff:127.0.0.1]:${target.port}/`, "The URL's host ::ffff:7f00:1 is an IP address which is not a public address."],
      [`https://localhost:${target.port}/`, "The URL's host localhost is not a public name."],
    ]) {
      expect(await deployed.post(url as string, HEADERS, BODY)).toMatchObject({ ok: false, status: null, error, excerpt: '' });
    }
    expect(connect).not.toHaveBeenCalled();
    expect(target.connections).toBe(0);
  });

  it.each([['169.254.169.254'], ['10.0.0.5'], ['::ffff:10.0.0.5'], ['fd00:ec2::254'], ['127.0.0.1'], ['8.8.8.8', '10.0.0.5']].map((addresses) => ({ addresses })))(
    'refuses a name resolving to $addresses before any connection',
    async ({ addresses }) => {
      const target = await counter();
      const resolver = stub(addresses);
      const connect = forbidConnections();
      const transport = new HttpWebhookTransport({ allowPrivate: false, resolve: resolver.resolve });
      const attempt = await transport.post(`https://${HOST}:${target.port}/events`, HEADERS, BODY);
      const bad = addresses.at(-1);
      expect(attempt).toMatchObject({ ok: false, status: null, error: `The host ${HOST} resolves to ${bad}, which is not a public address.` });
      expect(resolver.calls).toEqual([HOST]);
      expect(connect).not.toHaveBeenCalled();
      expect(target.connections).toBe(0);
    },
  );

  it('refuses link-local and metadata addresses even where private targets are allowed', async () => {
    const connect = forbidConnections();
    for (const address of ['169.254.169.254', 'fd00:ec2::254', '::ffff:169.254.169.254']) {
      const resolver = stub([address]);
      const attempt = await new HttpWebhookTransport({ allowPrivate: true, resolve: resolver.resolve }).post(`http://${HOST}/latest/meta-data/`, HEADERS, BODY);
      expect(attempt.error).toBe(`The host ${HOST} resolves to ${address}, which is not a public, private or loopback address.`);
      expect(resolver.calls).toEqual([HOST]);
    }
    expect(await new HttpWebhookTransport({ allowPrivate: true }).post('http://169.254.169.254/latest/meta-data/', HEADERS, BODY)).toMatchObject({
      ok: false,
      error: "The URL's host 169.254.169.254 is an IP address which is not a public, private or loopback address.",
    });
    expect(connect).not.toHaveBeenCalled();
  });

  it('refuses a name that resolves to nothing, fails to resolve, or resolves too slowly, without connecting', async () => {
    const connect = forbidConnections();
    const empty = new HttpWebhookTransport({ allowPrivate: false, resolve: () => Promise.resolve([]) });
    expect((await empty.post(`https://${HOST}/`, HEADERS, BODY)).error).toBe(`The host ${HOST} does not resolve to any address.`);
    const failing = new HttpWebhookTransport({
      allowPrivate: false,
      resolve: () => Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${HOST}`), { code: 'ENOTFOUND' })),
    });
    expect((await failing.post(`https://${HOST}/`, HEADERS, BODY)).error).toBe(`The host ${HOST} does not resolve.`);
    const slow = new HttpWebhookTransport({ allowPrivate: false, timeoutMs: 100, resolve: () => new Promise<string[]>(() => undefined) });
    expect(await slow.post(`https://${HOST}/`, HEADERS, BODY)).toMatchObject({ ok: false, status: null, error: 'No answer within 0.1 s.' });
    expect(connect).not.toHaveBeenCalled();
  });
});

describe('HttpWebhookTransport pinning a name to the address it checked', () => {
  it('resolves the name once, connects to the checked address and still sends the name as Host', async () => {
    const target = await receiver((response) => response.writeHead(200).end('ok'));
    // A second lookup would answer an internal address: the transport must not ask again.
    const resolver = stub(['127.0.0.1'], ['10.0.0.5']);
    const transport = new HttpWebhookTransport({ allowPrivate: true, resolve: resolver.resolve });
    const attempt = await transport.post(`http://${HOST}:${target.port}/events`, HEADERS, BODY);
    expect(attempt).toMatchObject({ ok: true, status: 200, excerpt: 'ok' });
    expect(resolver.calls).toEqual([HOST]);
    expect(target.requests.map((request) => request.headers.host)).toEqual([`${HOST}:${target.port}`]);
  });

  it('speaks TLS to the checked address with the name for SNI, and reports a failed handshake in a sentence', async () => {
    const target = await counter();
    const resolver = stub(['127.0.0.1']);
    const attempt = await new HttpWebhookTransport({ allowPrivate: true, resolve: resolver.resolve }).post(`https://${HOST}:${target.port}/`, HEADERS, BODY);
    expect(attempt).toMatchObject({ ok: false, status: null, excerpt: '' });
    expect(attempt.error).toMatch(/^The TLS connection failed \([A-Z_]+\)\.$/);
    expect(target.connections).toBe(1);
    // The ClientHello carries the server name in clear.
    expect(Buffer.concat(target.firstBytes).includes(Buffer.from(HOST, 'ascii'))).toBe(true);
  });
});

describe('ResolvingWebhookTargets (registration) and the factories', () => {
  let connect: ReturnType<typeof forbidConnections>;
  beforeEach(() => {
    connect = forbidConnections();
  });

  it('accepts a name whose addresses are all public, and refuses by the same rules as delivery, without connecting', async () => {
    const publicName = new ResolvingWebhookTargets({ allowPrivate: false, resolve: stub(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c']).resolve });
    expect(await publicName.check(`https://${HOST}/events`)).toEqual({ ok: true });
    const internal = new ResolvingWebhookTargets({ allowPrivate: false, resolve: stub(['93.184.215.14', '10.0.0.5']).resolve });
    expect(await internal.check(`https://${HOST}/events`)).toEqual({ ok: false, reason: `The host ${HOST} resolves to 10.0.0.5, which is not a public address.` });
    expect(await internal.check('http://127.0.0.1/')).toEqual({ ok: false, reason: 'The URL must use https.' });
    expect(connect).not.toHaveBeenCalled();
  });

  it('take the target policy from WEBHOOK_ALLOW_PRIVATE_TARGETS', async () => {
    expect(await webhookTargets({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' }).check('https://127.0.0.1/')).toMatchObject({ ok: false });
    expect(await webhookTargets({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }).check('http://127.0.0.1:4000/')).toEqual({ ok: true });
    expect(await webhookTransport({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' }).post('http://127.0.0.1:4000/', HEADERS, BODY)).toMatchObject({
      ok: false,
      error: 'The URL must use https.',
    });
    expect(connect).not.toHaveBeenCalled();
    connect.mockRestore();
    const target = await receiver((response) => response.writeHead(200).end());
    expect(await webhookTransport({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }).post(`http://127.0.0.1:${target.port}/`, HEADERS, BODY)).toMatchObject({ ok: true });
  });
});
