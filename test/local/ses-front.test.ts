// The functions' way to the SES emulator refuses what SES refuses: a configuration set the stack does not
// create, a message tag SES would not take. The real SES v2 client, the real emulator.
import { BadRequestException, NotFoundException, SendEmailCommand, SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSesLocal, type RunningEmulator } from '../../local/emulators.ts';
import type { StoredEmail } from '../../local/local-client.ts';
import { sendEmailRefusal, startSesFront, type SesFront } from '../../local/ses-front.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const SET = 'CustomerTransfer-mail';

let ses: RunningEmulator | undefined;
let front: SesFront | undefined;
let client: SESv2Client;

beforeAll(async () => {
  ses = await startSesLocal({ port: 0 });
  front = await startSesFront({ target: ses.endpoint, configurationSets: [SET] });
  client = new SESv2Client({ endpoint: front.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await front?.close();
  await ses?.stop();
});

let serial = 0;
function email(overrides: Partial<SendEmailCommandInput> = {}): SendEmailCommandInput {
  serial += 1;
  return {
    FromEmailAddress: 'transfers@provider.example',
    Destination: { ToAddresses: ['ops@northwind.example'] },
    Content: { Simple: { Subject: { Data: `Release needed ${serial}` }, Body: { Text: { Data: 'Please decide.' } } } },
    ConfigurationSetName: SET,
    EmailTags: [{ Name: 'transferId', Value: 'TR-20260310-ABCDEFGH12' }],
    ...overrides,
  };
}

async function stored(subject: string): Promise<StoredEmail[]> {
  const response = await fetch(`${ses?.endpoint ?? ''}/store`);
  const { emails } = (await response.json()) as { emails: StoredEmail[] };
  return emails.filter((stored) => stored.subject === subject);
}

async function refusal(input: SendEmailCommandInput): Promise<unknown> {
  try {
    await client.send(new SendEmailCommand(input));
  } catch (error) {
    return error;
  }
  throw new Error('the send was not refused');
}

describe('the SES front', () => {
  it('passes a send through the stack\'s configuration set with valid tags: the emulator stores it', async () => {
    const input = email();
    const { MessageId } = await client.send(new SendEmailCommand(input));
    expect(MessageId).toEqual(expect.any(String));
    expect(await stored(input.Content?.Simple?.Subject?.Data ?? '')).toHaveLength(1);
    // Without a configuration set, as SES allows.
    const plain = email({ ConfigurationSetName: undefined, EmailTags: undefined });
    await client.send(new SendEmailCommand(plain));
    expect(await stored(plain.Content?.Simple?.Subject?.Data ?? '')).toHaveLength(1);
  });

  it('refuses a configuration set the stack does not create with 404 NotFoundException, and nothing is stored', async () => {
    const input = email({ ConfigurationSetName: 'CustomerTransfer-prod-mail' });
    const error = await refusal(input);
    expect(error).toBeInstanceOf(NotFoundException);
    expect(error).toMatchObject({ $metadata: { httpStatusCode: 404 }, message: 'Configuration set <CustomerTransfer-prod-mail> does not exist.' });
    expect(await stored(input.Content?.Simple?.Subject?.Data ?? '')).toEqual([]);
  });

  it.each([
    ['a dot in a value', { Name: 'transferId', Value: 'TR.1' }],
    ['a space in a name', { Name: 'transfer id', Value: 'TR-1' }],
    ['an empty value', { Name: 'transferId', Value: '' }],
    ['a value over 256 characters', { Name: 'transferId', Value: 'x'.repeat(257) }],
    ['an address as a value', { Name: 'contact', Value: 'ops@northwind.example' }],
  ])('refuses a message tag with %s with 400 BadRequestException, and nothing is stored', async (_case, tag) => {
    const input = email({ EmailTags: [{ Name: 'stage', Value: 'dev' }, tag] });
    const error = await refusal(input);
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error).toMatchObject({ $metadata: { httpStatusCode: 400 } });
    expect((error as Error).message).toMatch(/^Invalid message tag (name|value) /);
    expect(await stored(input.Content?.Simple?.Subject?.Data ?? '')).toEqual([]);
  });

  it('takes a tag of 256 allowed characters', async () => {
    const input = email({ EmailTags: [{ Name: 'a'.repeat(256), Value: 'A-z_0-9'.padEnd(256, '9') }] });
    await client.send(new SendEmailCommand(input));
    expect(await stored(input.Content?.Simple?.Subject?.Data ?? '')).toHaveLength(1);
  });

  it('forwards every other request unchanged (the emulator\'s store, its health check)', async () => {
    const endpoint = front?.endpoint ?? '';
    const health = await fetch(`${endpoint}/health-check`);
    expect(health.status).toBe(200);
    await health.body?.cancel();
    const store = await fetch(`${endpoint}/store`);
    expect(store.status).toBe(200);
    expect(((await store.json()) as { emails: unknown[] }).emails.length).toBeGreaterThan(0);
  });

  it('names why a request body is refused', () => {
    expect(sendEmailRefusal(undefined, [SET])).toMatchObject({ status: 400, type: 'BadRequestException' });
    expect(sendEmailRefusal({ ConfigurationSetName: 7 }, [SET])).toMatchObject({ status: 404, type: 'NotFoundException' });
    expect(sendEmailRefusal({ EmailTags: { Name: 'a', Value: 'b' } }, [SET])).toMatchObject({ status: 400, message: 'EmailTags must be a list.' });
    expect(sendEmailRefusal({ ConfigurationSetName: SET, EmailTags: [] }, [SET])).toBeUndefined();
  });
});
