import { connect } from 'node:net';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, parseJavaMajorVersion, startDynamoDbLocal, startSesLocal } from '../../local/emulators.ts';
import type { RunningEmulator } from '../../local/emulators.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { html?: string; text?: string };
  at: number;
}

describe('parseJavaMajorVersion', () => {
  it('reads legacy and modern version strings', () => {
    expect(parseJavaMajorVersion('java version "1.8.0_381"')).toBe(8);
    expect(parseJavaMajorVersion('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(parseJavaMajorVersion('openjdk version "21" 2023-09-19')).toBe(21);
    expect(parseJavaMajorVersion('no java here')).toBeUndefined();
  });
});

describe('local emulators', () => {
  let dynamoPort: number;
  let sesPort: number;
  let dynamo: RunningEmulator | undefined;
  let ses: RunningEmulator | undefined;

  beforeAll(async () => {
    dynamoPort = await freePort();
    sesPort = await freePort();
    [dynamo, ses] = await Promise.all([startDynamoDbLocal({ port: dynamoPort }), startSesLocal({ port: sesPort })]);
  });

  afterAll(async () => {
    await Promise.all([dynamo?.stop(), ses?.stop()]);
  });

  function running(emulator: RunningEmulator | undefined): RunningEmulator {
    if (!emulator) throw new Error('emulator did not start');
    return emulator;
  }

  it('DynamoDB Local creates a table and stores an item', async () => {
    const { endpoint } = running(dynamo);
    expect(endpoint).toBe(`http://127.0.0.1:${dynamoPort}`);
    const client = new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials });
    try {
      await client.send(new CreateTableCommand({
        TableName: 'transfers',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }));
      await client.send(new PutItemCommand({ TableName: 'transfers', Item: { pk: { S: 'TRANSFER#1' }, status: { S: 'REQUESTED' } } }));
      const { Item } = await client.send(new GetItemCommand({ TableName: 'transfers', Key: { pk: { S: 'TRANSFER#1' } }, ConsistentRead: true }));
      expect(Item).toEqual({ pk: { S: 'TRANSFER#1' }, status: { S: 'REQUESTED' } });
    } finally {
      client.destroy();
    }
    // -sharedDb: another region and other credentials see the same table.
    const other = new DynamoDBClient({ endpoint, region: 'us-west-2', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    try {
      const { Item } = await other.send(new GetItemCommand({ TableName: 'transfers', Key: { pk: { S: 'TRANSFER#1' } } }));
      expect(Item?.status).toEqual({ S: 'REQUESTED' });
    } finally {
      other.destroy();
    }
  });

  it('the SES emulator stores a sent email and lists it at /store', async () => {
    const { endpoint } = running(ses);
    const since = Math.floor(Date.now() / 1000);
    const client = new SESv2Client({ endpoint, region: 'eu-west-1', credentials });
    let messageId: string | undefined;
    try {
      ({ MessageId: messageId } = await client.send(new SendEmailCommand({
        FromEmailAddress: 'transfers@example.com',
        Destination: { ToAddresses: ['owner@acme.example'], CcAddresses: ['ops@example.com'] },
        Content: { Simple: { Subject: { Data: 'Transfer requested' }, Body: { Text: { Data: 'Please approve.' }, Html: { Data: '<p>Please approve.</p>' } } } },
      })));
    } finally {
      client.destroy();
    }
    expect(messageId).toEqual(expect.any(String));
    const response = await fetch(`${endpoint}/store?since=${since}`);
    expect(response.status).toBe(200);
    const { emails } = (await response.json()) as { emails: StoredEmail[] };
    const email = emails.find((e) => e.messageId === messageId);
    expect(email).toMatchObject({
      from: 'transfers@example.com',
      destination: { to: ['owner@acme.example'], cc: ['ops@example.com'] },
      subject: 'Transfer requested',
      body: { text: 'Please approve.', html: '<p>Please approve.</p>' },
    });
    expect(email?.at).toBeGreaterThanOrEqual(since);

    const cleared = await fetch(`${endpoint}/clear-store`, { method: 'POST' });
    expect(cleared.status).toBe(200);
    const after = (await (await fetch(`${endpoint}/store`)).json()) as { emails: StoredEmail[] };
    expect(after.emails).toEqual([]);
  });

  it('SES API calls without an Authorization header are refused', async () => {
    const response = await fetch(`${running(ses).endpoint}/v2/email/outbound-emails`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(403);
  });

  it('stop() ends both emulators and frees their ports', async () => {
    expect(await portAnswers(dynamoPort)).toBe(true);
    expect(await portAnswers(sesPort)).toBe(true);
    await Promise.all([running(dynamo).stop(), running(ses).stop()]);
    expect(await portAnswers(dynamoPort)).toBe(false);
    expect(await portAnswers(sesPort)).toBe(false);
    // stop() is idempotent.
    await running(dynamo).stop();
  });
});
