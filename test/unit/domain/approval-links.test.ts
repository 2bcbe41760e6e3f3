import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { hashSecret, linkSecret, newLinkNonce, type LinkDecision, type LinkState } from '../../../lambdas/domain/approval-links.ts';
import type { Caller } from '../../../lambdas/domain/caller.ts';
import { SIGNER_PLACEHOLDER } from '../../../lambdas/domain/consent.ts';
import type { EmailMessage } from '../../../lambdas/presentation/emails.ts';
import type { TransferWithHistory } from '../../../lambdas/domain/transfer.ts';
import { ConflictError, TransientError } from '../../../lambdas/domain/errors.ts';
import { LINK_KEY, META, NOW, TODAY, world, type World } from './in-memory-ports.ts';

const north: Caller = { kind: 'partner', partnerId: 'P-NORTH', subject: 'alice@northwind.example' };
const WINDOW = 14 * 86_400;
const EXPIRES = '2026-03-24T15:00:00.000Z';

function secretIn(message: EmailMessage | undefined): string {
  const match = /\/approvals\/([A-Za-z0-9_-]{43})\b/.exec(message?.text ?? '');
  if (!match?.[1]) throw new Error('no approval link in the email');
  return match[1];
}

function problemOf(state: LinkState | LinkDecision): string {
  return state.kind === 'problem' ? state.problem : state.kind;
}

let w: World;
let transfer: TransferWithHistory;
let secret: string;

beforeEach(async () => {
  w = world();
  transfer = await w.transfers.create(north, { customerIds: ['C-ACME'], toPartnerId: 'P-SOUTH' }, META);
  await w.steps.requestApproval({ transferId: transfer.id, step: 'release', taskToken: 'task-release-1', approvalWindowSeconds: WINDOW });
  secret = secretIn(w.mailer.sent[0]);
});

describe('link secrets', () => {
  it('newLinkNonce is 128 bits from the CSPRNG, base64url, and never repeats', () => {
    const nonces = Array.from({ length: 200 }, () => newLinkNonce());
    for (const n of nonces) {
      expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(n, 'base64url')).toHaveLength(16);
    }
    expect(new Set(nonces).size).toBe(200);
  });

  it('linkSecret is 43 base64url characters (256 bits), the same for the same inputs, different for any other', () => {
    const nonce = newLinkNonce();
    const secretOf = linkSecret(LINK_KEY, 'TR-1', 'release', nonce);
    expect(secretOf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secretOf, 'base64url')).toHaveLength(32);
    expect(linkSecret(LINK_KEY, 'TR-1', 'release', nonce)).toBe(secretOf);
    const others = [
      linkSecret(LINK_KEY, 'TR-2', 'release', nonce),
      linkSecret(LINK_KEY, 'TR-1', 'acceptance', nonce),
      linkSecret(LINK_KEY, 'TR-1', 'release', newLinkNonce()),
      linkSecret(Buffer.from('another-key-of-at-least-32-bytes-long!!', 'utf8'), 'TR-1', 'release', nonce),
    ];
    expect(new Set([secretOf, ...others]).size).toBe(5);
  });

  it('linkSecret is the HMAC-SHA256 of transfer id, step and nonce under the key', () => {
    expect(linkSecret(Buffer.from('key'), 'TR-1', 'release', 'nonce')).toBe(
      createHmac('sha256', 'key').update('TR-1\nrelease\nnonce').digest('base64url'),
    );
  });

  it('hashSecret is the SHA-256 hex digest', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('ApprovalLinks.open', () => {
  it('an open link shows the request with the statement to sign, today and the latest date', async () => {
    const state = await w.links.open(secret);
    if (state.kind !== 'open') throw new Error(`expected an open link, got ${problemOf(state)}`);
    expect(state.link).toMatchObject({ hash: hashSecret(secret), transferId: transfer.id, step: 'release', partnerId: 'P-NORTH', state: 'open' });
    expect(state.view).toMatchObject({
      step: 'release',
      partner: { id: 'P-NORTH', name: 'Northwind IT' },
      today: TODAY,
      latestDate: '2026-09-06',
      expiresAt: EXPIRES,
    });
    expect(state.view.transfer.id).toBe(transfer.id);
    expect(state.view.statement).toContain(`I, ${SIGNER_PLACEHOLDER}, am authorised to act for Northwind IT (P-NORTH).`);
  });

  it('opening a link changes nothing (mail scanners open links)', async () => {
    const before = JSON.stringify([...w.store.links.values(), ...w.store.steps.values(), ...w.store.transfers.values()]);
    await w.links.open(secret);
    await w.links.open(secret);
    expect(JSON.stringify([...w.store.links.values(), ...w.store.steps.values(), ...w.store.transfers.values()])).toBe(before);
    expect(w.workflow.signals).toEqual([]);
  });

  it('a malformed or unknown secret is not-found', async () => {
    expect(problemOf(await w.links.open('short'))).toBe('not-found');
    expect(problemOf(await w.links.open(`${secret}x`))).toBe('not-found');
    expect(problemOf(await w.links.open(linkSecret(LINK_KEY, transfer.id, 'acceptance', newLinkNonce())))).toBe('not-found');
    expect(problemOf(await w.links.open(hashSecret(secret)))).toBe('not-found');
  });

  it('a superseded link says so', async () => {
    const link = w.store.links.get(hashSecret(secret));
    if (link) link.state = 'superseded';
    expect(problemOf(await w.links.open(secret))).toBe('superseded');
  });

  it('a link is expired from its expiry instant on', async () => {
    w.clock.current = new Date(Date.parse(EXPIRES) - 1);
    expect(problemOf(await w.links.open(secret))).toBe('open');
    w.clock.current = new Date(EXPIRES);
    expect(problemOf(await w.links.open(secret))).toBe('expired');
  });

  it('a link whose transfer moved on (cancelled) is closed', async () => {
    const stored = w.store.transfers.get(transfer.id);
    if (stored) stored.status = 'CANCELLED';
    expect(problemOf(await w.links.open(secret))).toBe('closed');
  });

  it('a link whose transfer expired is expired, even before the link\'s own instant', async () => {
    const stored = w.store.transfers.get(transfer.id);
    if (stored) stored.status = 'EXPIRED';
    expect(problemOf(await w.links.open(secret))).toBe('expired');
  });

  it('a used link says so and shows the recorded consent', async () => {
    await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    const state = await w.links.open(secret);
    expect(state.kind).toBe('problem');
    expect(state).toMatchObject({ problem: 'used', step: 'release', consent: { decision: 'release', signedBy: 'Alice Smith', via: 'link' } });
  });
});

describe('ApprovalLinks.decide', () => {
  function expectNothingRecorded(): void {
    expect(w.store.decisions).toEqual([]);
    expect(w.store.steps.get(`${transfer.id}#release`)?.decision).toBeNull();
    expect(w.store.links.get(hashSecret(secret))?.state).toBe('open');
    expect(w.workflow.signals).toEqual([]);
    expect(w.store.transfers.get(transfer.id)?.status).toBe('AWAITING_RELEASE');
  }

  it('without the acknowledgement: invalid, with a field error, and nothing recorded', async () => {
    const result = await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith' }, META);
    if (result.kind !== 'invalid') throw new Error(`expected invalid, got ${result.kind}`);
    expect(result.errors).toEqual([{ field: 'acknowledge', message: 'tick the box to confirm this is your written, signed decision' }]);
    expect(result.values).toMatchObject({ signedBy: 'Alice Smith' });
    expectNothingRecorded();
  });

  it('a decline without a reason: invalid on reason, and nothing recorded', async () => {
    const result = await w.links.decide(secret, { decision: 'decline', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'invalid', errors: [{ field: 'reason', message: 'say why you decline, in a few words' }] });
    expectNothingRecorded();
  });

  it('both problems at once are both reported', async () => {
    const result = await w.links.decide(secret, { decision: 'decline', signedBy: 'Alice Smith', reason: 'no' }, META);
    expect(result.kind === 'invalid' ? result.errors.map((e) => e.field) : []).toEqual(['acknowledge', 'reason']);
    expectNothingRecorded();
  });

  it('a decision not offered at this step ("accept" on a release link) is invalid', async () => {
    const result = await w.links.decide(secret, { decision: 'accept', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'invalid', errors: [{ field: 'decision', message: 'choose release or decline' }] });
    expectNothingRecorded();
  });

  it('a release without a date or "immediate" is invalid on transferDate', async () => {
    const result = await w.links.decide(secret, { decision: 'release', transferDate: '', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'invalid', errors: [{ field: 'transferDate' }] });
    expectNothingRecorded();
  });

  it('a date in the past is invalid, with the policy\'s message', async () => {
    const result = await w.links.decide(secret, { decision: 'release', transferDate: '2026-03-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(result.kind).toBe('invalid');
    expect(result.kind === 'invalid' ? result.errors[0]?.message : '').toContain('2026-03-01 is in the past');
    expectNothingRecorded();
  });

  it('a signed release is recorded as a link consent, uses the link and signals the waiting task', async () => {
    const result = await w.links.decide(
      secret,
      { decision: 'release', transferDate: '', immediate: 'on', signedBy: 'Alice Smith', acknowledge: 'on' },
      META,
    );
    if (result.kind !== 'recorded') throw new Error(`expected recorded, got ${result.kind}`);
    expect(result.step).toBe('release');
    expect(result.result.repeated).toBe(false);
    expect(result.result.consent).toMatchObject({
      decision: 'release',
      signedBy: 'Alice Smith',
      transferDate: TODAY,
      immediate: true,
      via: 'link',
      sourceIp: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (test)',
    });
    expect(result.result.transfer.status).toBe('AWAITING_ACCEPTANCE');
    expect(w.store.links.get(hashSecret(secret))?.state).toBe('used');
    expect(w.store.decisions[0]?.linkHash).toBe(hashSecret(secret));
    const event = w.store.history(transfer.id).find((e) => e.type === 'RELEASED');
    expect(event?.actor).toEqual({ kind: 'partner', partnerId: 'P-NORTH', name: 'Alice Smith' });
    expect(w.workflow.signals).toEqual([
      { taskToken: 'task-release-1', signal: { kind: 'success', output: { acceptanceNeeded: true, transferDate: TODAY, immediate: true } } },
    ]);
  });

  it('a repeated POST of the same form answers with the recorded decision, recording nothing new', async () => {
    const form = { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' };
    const first = await w.links.decide(secret, form, META);
    const again = await w.links.decide(secret, form, META);
    expect(first.kind).toBe('recorded');
    expect(again).toMatchObject({ kind: 'recorded', step: 'release', result: { repeated: true, consent: { decision: 'release', signedBy: 'Alice Smith' } } });
    expect(w.store.decisions).toHaveLength(1);
    expect(w.workflow.signals).toHaveLength(1);
  });

  it('another decision on a used link answers "used" and changes nothing', async () => {
    await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    const other = await w.links.decide(secret, { decision: 'decline', reason: 'Changed our mind', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(problemOf(other)).toBe('used');
    expect(w.store.decisions).toHaveLength(1);
    expect(w.store.transfers.get(transfer.id)?.status).toBe('AWAITING_ACCEPTANCE');
  });

  it('an expired link decides nothing', async () => {
    w.clock.current = new Date(Date.parse(EXPIRES) + 1);
    const result = await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(problemOf(result)).toBe('expired');
    expectNothingRecorded();
  });

  it('the approval window runs from when the wait opened the link', () => {
    expect(w.store.links.get(hashSecret(secret))?.expiresAt).toBe(new Date(NOW.getTime() + WINDOW * 1000).toISOString());
  });
});

describe('ApprovalLinks: the acceptance link', () => {
  let acceptance: TransferWithHistory;
  let acceptanceSecret: string;

  beforeEach(async () => {
    acceptance = await w.transfers.create(north, { customerIds: ['C-BRIGHT'], toPartnerId: 'P-SOUTH', release: { transferDate: '2026-04-01', signedBy: 'Alice Smith' } }, META);
    await w.steps.requestApproval({ transferId: acceptance.id, step: 'acceptance', taskToken: 'task-acceptance-1', approvalWindowSeconds: WINDOW });
    acceptanceSecret = secretIn(w.mailer.sent.at(-1));
  });

  it('shows the new partner the acceptance to sign', async () => {
    const state = await w.links.open(acceptanceSecret);
    if (state.kind !== 'open') throw new Error(`expected an open link, got ${problemOf(state)}`);
    expect(state.view).toMatchObject({ step: 'acceptance', partner: { id: 'P-SOUTH', name: 'Southgate Networks' } });
    expect(state.view.statement).toContain(`I, ${SIGNER_PLACEHOLDER}, am authorised to act for Southgate Networks (P-SOUTH).`);
  });

  it('refuses a release: the choices are accept or decline', async () => {
    const result = await w.links.decide(acceptanceSecret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Bob Jones', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'invalid', errors: [{ field: 'decision', message: 'choose accept or decline' }] });
    expect(w.store.decisions).toEqual([]);
  });

  it('records an acceptance and signals the acceptance wait', async () => {
    const result = await w.links.decide(acceptanceSecret, { decision: 'accept', signedBy: 'Bob Jones', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'recorded', step: 'acceptance', result: { consent: { step: 'acceptance', decision: 'accept', signedBy: 'Bob Jones', via: 'link' } } });
    expect(result.kind === 'recorded' && result.result.transfer.status).toBe('SCHEDULED');
    expect(w.workflow.signals).toEqual([{ taskToken: 'task-acceptance-1', signal: { kind: 'success', output: { accepted: true } } }]);
  });

  it('records a decline of the acceptance', async () => {
    const result = await w.links.decide(acceptanceSecret, { decision: 'decline', reasonCode: 'DISPUTE', signedBy: 'Bob Jones', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'recorded', result: { consent: { step: 'acceptance', decision: 'decline', reasonCode: 'DISPUTE', reason: null } } });
  });
});

describe('ApprovalLinks: a decline\'s ground on the form', () => {
  const decline = (fields: Record<string, string>) => ({ decision: 'decline', signedBy: 'Alice Smith', acknowledge: 'on', ...fields });

  it('a ground from the list may stand alone', async () => {
    const result = await w.links.decide(secret, decline({ reasonCode: 'OUTSTANDING_BALANCE' }), META);
    expect(result).toMatchObject({ kind: 'recorded', result: { consent: { decision: 'decline', reasonCode: 'OUTSTANDING_BALANCE', reason: null } } });
  });

  it('"another reason", chosen or left empty, needs at least 3 characters of words', async () => {
    expect(await w.links.decide(secret, decline({ reasonCode: 'OTHER', reason: 'ab' }), META)).toMatchObject({
      kind: 'invalid',
      errors: [{ field: 'reason', message: 'say why you decline, in a few words' }],
    });
    expect(await w.links.decide(secret, decline({ reasonCode: 'OTHER' }), META)).toMatchObject({ kind: 'invalid', errors: [{ field: 'reason' }] });
    expect(w.store.decisions).toEqual([]);
    const result = await w.links.decide(secret, decline({ reasonCode: '', reason: 'abc' }), META);
    expect(result).toMatchObject({ kind: 'recorded', result: { consent: { decision: 'decline', reasonCode: 'OTHER', reason: 'abc' } } });
  });

  it('a listed ground keeps the words given with it', async () => {
    const result = await w.links.decide(secret, decline({ reasonCode: 'DISPUTE', reason: 'Invoices unpaid since May' }), META);
    expect(result).toMatchObject({ kind: 'recorded', result: { consent: { reasonCode: 'DISPUTE', reason: 'Invoices unpaid since May' } } });
    expect(result.kind === 'recorded' && result.result.transfer.status).toBe('DECLINED');
  });
});

describe('ApprovalLinks: what a link finds and answers', () => {
  it('a malformed secret is refused without a lookup', async () => {
    const lookups: string[] = [];
    const getLink = w.store.getLink.bind(w.store);
    w.store.getLink = (hash) => (lookups.push(hash), getLink(hash));
    for (const bad of [`${secret}x`, `x${secret}`, secret.slice(1), `${secret.slice(0, 42)}+`]) {
      expect(problemOf(await w.links.open(bad))).toBe('not-found');
    }
    expect(lookups).toEqual([]);
    expect(problemOf(await w.links.open(secret))).toBe('open');
    expect(lookups).toEqual([hashSecret(secret)]);
  });

  it('a link whose transfer is gone is not-found', async () => {
    w.store.transfers.delete(transfer.id);
    expect(await w.links.open(secret)).toEqual({ kind: 'problem', problem: 'not-found' });
  });

  it('a used link whose step record is gone says "used" without a consent', async () => {
    const link = w.store.links.get(hashSecret(secret));
    if (link) link.state = 'used';
    w.store.steps.delete(`${transfer.id}#release`);
    const state = await w.links.open(secret);
    expect(state).toMatchObject({ kind: 'problem', problem: 'used', step: 'release' });
    expect(state).not.toHaveProperty('consent');
    expect(problemOf(await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META))).toBe('used');
  });

  it('an unknown form field is named on the form; a release without a date says how to give one; a refused date is the form\'s', async () => {
    expect(await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on', extra: '1' }, META)).toMatchObject({
      kind: 'invalid',
      errors: [{ field: 'form', message: 'unknown field: extra' }],
    });
    expect(await w.links.decide(secret, { decision: 'release', signedBy: 'Alice Smith', acknowledge: 'on' }, META)).toMatchObject({
      kind: 'invalid',
      errors: [{ field: 'transferDate', message: 'choose a transfer date, or tick "immediate"' }],
    });
    const past = await w.links.decide(secret, { decision: 'release', transferDate: '2026-03-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(past).toMatchObject({ kind: 'invalid', errors: [{ field: 'form', message: 'transferDate 2026-03-01 is in the past; use 2026-03-10 or later, or "immediate".' }] });
  });

  it('a decision through a link is written once, against the step read with the link, with the invoice days kept with the request', async () => {
    let writes = 0;
    const decide = w.store.decide.bind(w.store);
    w.store.decide = (decision) => ((writes += 1), decide(decision));
    const partner = w.directory.partners.get('P-NORTH');
    if (partner) partner.invoiceDay = 15;

    const result = await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);

    expect(writes).toBe(1);
    expect(result).toMatchObject({ kind: 'recorded', result: { transfer: { billing: { fromPartnerNextInvoiceDate: '2026-04-01', aligned: true } } } });
  });

  it('the answer to a link\'s decision shows each customer\'s domain count, without reading the domains', async () => {
    const reads = w.store.customerReads;
    const result = await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(result.kind === 'recorded' && result.result.transfer.customers).toEqual([{ id: 'C-ACME', name: 'Acme Widgets', domainCount: 2 }]);
    expect(w.store.customerReads).toBe(reads);
  });

  it('a decision that lost to another one decided meanwhile answers with the link\'s state now', async () => {
    const decide = w.store.decide.bind(w.store);
    w.store.decide = async (decision) => {
      // The partner decides through the portal between the link's read and its write.
      w.store.decide = decide;
      await w.transfers.decideByCaller(north, transfer.id, 'release', { decision: 'release', transferDate: '2026-04-15', signedBy: 'Alice Smith' }, META);
      return decide(decision);
    };
    const result = await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'problem', problem: 'closed' });
    expect(w.store.decisions).toHaveLength(1);
  });

  it('a failure other than a conflict or a refusal is passed on, for the page to say "try again"', async () => {
    w.store.decide = () => Promise.reject(new TransientError());
    const error = await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
  });

  it('a conflict that leaves the link open answers it as closed for now, with its transfer', async () => {
    w.store.decide = () => Promise.reject(new ConflictError('ALREADY_DECIDED', 'Another decision was recorded first; this one was not recorded.'));
    const result = await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' }, META);
    expect(result).toMatchObject({ kind: 'problem', problem: 'closed', transfer: { id: transfer.id, status: 'AWAITING_RELEASE' } });
  });

  it('a repeated form is answered as recorded only when signed by the same person (the name trimmed), with the time of the decision', async () => {
    const form = { decision: 'release', transferDate: '2026-04-01', signedBy: 'Alice Smith', acknowledge: 'on' };
    w.clock.current = new Date(NOW.getTime() + 3_600_000);
    const first = await w.links.decide(secret, form, META);
    w.clock.current = new Date(NOW.getTime() + 2 * 3_600_000);
    await w.steps.requestApproval({ transferId: transfer.id, step: 'acceptance', taskToken: 'task-acceptance', approvalWindowSeconds: WINDOW });
    w.clock.current = new Date(NOW.getTime() + 3 * 3_600_000);
    await w.transfers.decideByCaller({ kind: 'partner', partnerId: 'P-SOUTH', subject: 'bob@southgate.example' }, transfer.id, 'acceptance', { decision: 'accept', signedBy: 'Bob Jones' }, META);

    const again = await w.links.decide(secret, { ...form, signedBy: ' Alice Smith ' }, META);
    expect(again).toMatchObject({ kind: 'recorded', result: { repeated: true, at: first.kind === 'recorded' ? first.result.at : '' } });
    expect(first).toMatchObject({ result: { at: new Date(NOW.getTime() + 3_600_000).toISOString() } });
    expect(problemOf(await w.links.decide(secret, { ...form, signedBy: 'Carol White' }, META))).toBe('used');
    expect(problemOf(await w.links.decide(secret, { decision: 'release', transferDate: '2026-04-01', acknowledge: 'on' }, META))).toBe('used');
  });
});
