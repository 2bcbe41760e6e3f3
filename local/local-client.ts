/**
 * Drives the local stack the way its users do: portal calls over HTTP, emails read from the SES
 * emulator's store, approval links opened and their forms posted. Used by `npm run demo` and the
 * end-to-end tests.
 */
export interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { html?: string; text?: string };
  at: number;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface TransferView {
  id: string;
  status: string;
  history: { at: string; type: string; actor: { kind: string; partnerId?: string; name?: string }; detail: Record<string, unknown> }[];
  [key: string]: unknown;
}

const LINK_PATTERN = /https?:\/\/[^\s"'<>]+\/approvals\/[A-Za-z0-9_-]+/;

export class LocalClient {
  private readonly usedLinks = new Set<string>();

  constructor(
    readonly apiUrl: string,
    readonly sesUrl: string,
  ) {}

  async health(): Promise<void> {
    const response = await fetch(`${this.apiUrl}/health`);
    if (!response.ok) throw new Error(`health answered ${response.status}`);
  }

  async call(method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> {
    const response = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  async emails(sinceEpochSeconds = 0): Promise<StoredEmail[]> {
    const response = await fetch(`${this.sesUrl}/store?since=${Math.floor(sinceEpochSeconds)}`);
    const store = (await response.json()) as { emails: StoredEmail[] };
    return store.emails;
  }

  /** The newest approval link emailed to a recipient that this client has not used yet. */
  async waitForLink(recipient: string, sinceEpochSeconds: number, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const emails = await this.emails(sinceEpochSeconds);
      for (const email of [...emails].reverse()) {
        if (!email.destination.to.includes(recipient)) continue;
        const link = LINK_PATTERN.exec(email.body.text ?? '')?.[0];
        if (link && !this.usedLinks.has(link)) {
          this.usedLinks.add(link);
          return link;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`No approval link reached ${recipient} within ${timeoutMs / 1000} s`);
  }

  async openLink(link: string): Promise<{ status: number; html: string }> {
    const response = await fetch(link);
    return { status: response.status, html: await response.text() };
  }

  async submitLink(link: string, fields: Record<string, string>): Promise<number> {
    return (await this.postForm(link, fields)).status;
  }

  async postForm(link: string, fields: Record<string, string>): Promise<{ status: number; html: string }> {
    const response = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: response.status, html: await response.text() };
  }

  async waitForStatus(id: string, token: string, statuses: string[], timeoutMs: number): Promise<TransferView> {
    const deadline = Date.now() + timeoutMs;
    let last: TransferView | undefined;
    while (Date.now() < deadline) {
      const answer = await this.call('GET', `/transfers/${id}`, token);
      if (answer.status !== 200) throw new Error(`GET /transfers/${id} answered ${answer.status}`);
      last = answer.body as TransferView;
      if (statuses.includes(last.status)) return last;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`Transfer ${id} is still ${last?.status ?? 'unknown'} after ${timeoutMs / 1000} s`);
  }
}
