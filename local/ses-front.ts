import { createServer, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { closeProxy, forward, listenOnLoopback } from './loopback-proxy.ts';

/** SES v2's SendEmail: the one call the functions make. */
const SEND_EMAIL_PATH = '/v2/email/outbound-emails';
/** SES v2 takes a message of at most 40 MB; a larger request is not read. */
const MAX_REQUEST_BYTES = 40 * 1024 * 1024;
/** A message tag's name and value, as SES v2 accepts them. */
const TAG_TEXT = /^[A-Za-z0-9_-]{1,256}$/;

/** The functions' way to the SES emulator, refusing what SES refuses. */
export interface SesFront {
  /** The endpoint to give the functions instead of the emulator's. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Why SES would refuse a SendEmail request, as SES v2 answers: status, error type, message. */
export function sendEmailRefusal(body: unknown, configurationSets: readonly string[]): { status: number; type: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null) return { status: 400, type: 'BadRequestException', message: 'The request body is not a JSON object.' };
  const { ConfigurationSetName: setName, EmailTags: tags } = body as { ConfigurationSetName?: unknown; EmailTags?: unknown };
  if (setName !== undefined && (typeof setName !== 'string' || !configurationSets.includes(setName))) {
    return { status: 404, type: 'NotFoundException', message: `Configuration set <${String(setName)}> does not exist.` };
  }
  if (tags !== undefined) {
    if (!Array.isArray(tags)) return { status: 400, type: 'BadRequestException', message: 'EmailTags must be a list.' };
    for (const tag of tags as Array<{ Name?: unknown; Value?: unknown }>) {
      for (const [what, text] of [['name', tag?.Name], ['value', tag?.Value]] as const) {
        if (typeof text !== 'string' || !TAG_TEXT.test(text)) {
          return {
            status: 400,
            type: 'BadRequestException',
            message: `Invalid message tag ${what} ${JSON.stringify(text)}: 1 to 256 ASCII letters, numbers, underscores or dashes.`,
          };
        }
      }
    }
  }
  return undefined;
}

/**
 * An HTTP front between the functions and the SES emulator (aws-ses-v2-local), which sends whatever it
 * is given. Like SES, it refuses a SendEmail naming a configuration set the stack does not create
 * (404 NotFoundException) or carrying a message tag SES would not take (400 BadRequestException),
 * before the emulator stores anything; every other request goes through unchanged.
 */
export async function startSesFront(options: { target: string; configurationSets: readonly string[] }): Promise<SesFront> {
  const port = Number(new URL(options.target).port);
  const answer = (outgoing: ServerResponse, status: number, headers: OutgoingHttpHeaders, payload: Buffer | string) => {
    outgoing.writeHead(status, headers);
    outgoing.end(payload);
  };
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    incoming.on('end', () => {
      const method = incoming.method ?? 'GET';
      const path = incoming.url ?? '/';
      const body = Buffer.concat(chunks);
      if (method === 'POST' && path.split('?')[0] === SEND_EMAIL_PATH) {
        const refusal =
          size > MAX_REQUEST_BYTES
            ? { status: 400, type: 'BadRequestException', message: 'The message is larger than SES accepts (40 MB).' }
            : sendEmailRefusal(parseJson(body), options.configurationSets);
        if (refusal) {
          answer(outgoing, refusal.status, { 'content-type': 'application/json', 'x-amzn-errortype': refusal.type }, JSON.stringify({ message: refusal.message }));
          return;
        }
      }
      forward(undefined, port, method, path, incoming.headers, body).then(
        ({ status, headers, payload }) => answer(outgoing, status, headers, payload),
        () => answer(outgoing, 502, { 'content-type': 'application/json' }, JSON.stringify({ message: 'The SES emulator did not answer.' })),
      );
    });
  });
  const endpoint = await listenOnLoopback(server);
  return { endpoint, close: () => closeProxy(server) };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
