import { PDFParse } from 'pdf-parse';
import { describe, expect, it } from 'vitest';
import type { ConsentRecordDocument } from '../../../lambdas/domain/consent-record.ts';
import { CODE_POINT_NOTE, recordPdf } from '../../../lambdas/presentation/record-pdf.ts';
import { acceptanceConsent, chained, FINGERPRINT, longHistory, recordDocument, recordTransfer, releaseConsent } from './record-fixtures.ts';

const ID = 'tr-20261201-7f3a';

interface Parsed {
  text: string;
  pages: string[];
  info: Record<string, unknown>;
  created: Date | null | undefined;
}

async function parse(bytes: Uint8Array): Promise<Parsed> {
  // pdf.js takes the buffer over: hand it a copy.
  const parser = new PDFParse({ data: bytes.slice() });
  try {
    const text = await parser.getText();
    const info = await parser.getInfo();
    return {
      text: text.text,
      pages: text.pages.map((page) => page.text),
      info: (info.info ?? {}) as Record<string, unknown>,
      created: info.getDateNode().CreationDate,
    };
  } finally {
    await parser.destroy();
  }
}

/** Text as read back, with line breaks and runs of spaces as one space: wrapping moves them. */
function flat(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

async function rendered(doc: ConsentRecordDocument): Promise<Parsed> {
  return parse(await recordPdf(doc));
}

function countOf(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

describe('recordPdf', () => {
  const doc = recordDocument();

  it('is a PDF with the record metadata', async () => {
    const bytes = await recordPdf(doc);
    expect(new TextDecoder().decode(bytes.slice(0, 5))).toBe('%PDF-');
    const { info, created } = await parse(bytes);
    expect(info.Title).toBe(`Consent record ${ID}`);
    expect(info.Producer).toBe('MailShield Customer Transfer');
    expect(info.Creator).toBe('MailShield Customer Transfer');
    expect(created?.toISOString()).toBe(doc.generatedAt);
  });

  it('holds every section with the transfer, each statement verbatim, the signers, their addresses and the fingerprint', async () => {
    const { text } = await rendered(doc);
    const all = flat(text);
    expect(all).toContain(`Consent record ${ID}`);
    const order = ['Transfer ID', 'Written consents', 'History', 'Integrity'].map((heading) => all.indexOf(heading));
    expect(order.every((at) => at > -1)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const consent of doc.consents) {
      expect(all).toContain(flat(consent.statement));
      expect(all).toContain(`Signed by ${consent.signedBy}`);
      expect(all).toContain(`IP address ${consent.sourceIp ?? ''}`);
    }
    expect(all).toContain('Given Through the emailed approval link');
    expect(all).toContain('Given Through the portal API');
    expect(all).toContain('2027-01-01 is an invoice date of Northwind IT: the customer is billed once.');
    expect(all).toContain(FINGERPRINT);
    expect(all).toContain(`npm run transfers -- verify ${ID}`);
    expect(all).toContain('Intact All 11 events are chained');
    // The standard fonts lack the true minus sign, so the offset is written with a hyphen.
    expect(all).toContain('Signed at 2026-12-02 17:05 (America/New_York, UTC-05:00)');
    expect(all).toContain('Produced 2027-01-04 11:20 (America/New_York, UTC-05:00).');
    for (const event of doc.events) expect(all).toContain(event.hash?.slice(0, 12));
    expect(all).not.toContain(CODE_POINT_NOTE);
  });

  it('breaks a long history over pages with a footer on each: the transfer, page N of M and the fingerprint', async () => {
    const events = longHistory(200);
    const { pages, text } = await rendered(recordDocument({ events, chain: { state: 'intact', events: 200, head: events.at(-1)?.hash ?? '' } }));
    expect(pages.length).toBeGreaterThan(1);
    pages.forEach((page, index) => {
      expect(flat(page)).toContain(`Consent record ${ID} page ${index + 1} of ${pages.length} fingerprint ${FINGERPRINT.slice(0, 16)}`);
    });
    const all = flat(text);
    expect(events).toHaveLength(200);
    for (const event of events) expect(all).toContain(event.hash?.slice(0, 12));
    // The table's header starts each page it runs on.
    expect(pages.filter((page) => flat(page).includes('# Time Event By Detail Hash')).length).toBeGreaterThan(2);
  });

  it('keeps a consent on one page when it fits on one', async () => {
    const { pages } = await rendered(doc);
    for (const consent of doc.consents) {
      const first = flat(consent.statement).slice(0, 40);
      const page = pages.find((text) => flat(text).includes(first)) ?? '';
      expect(flat(page)).toContain(`Signed by ${consent.signedBy}`);
      expect(flat(page)).toContain('Billing advice the signer saw');
    }
  });

  it('shows characters the standard fonts lack as code points, says so once, and does not throw', async () => {
    const transfer = recordTransfer({ toPartner: { id: 'partner-sh', name: '上海网络' } });
    const release = releaseConsent(transfer);
    const acceptance = acceptanceConsent(transfer, { signedBy: '张伟 (Zhang Wei) 😀', userAgent: 'Agent\u001b[0m\r\nX: 1' });
    const { text } = await rendered(recordDocument({ transfer, consents: [release, acceptance] }));
    const all = flat(text);
    expect(all).toContain('Signed by [U+5F20][U+4F1F] (Zhang Wei) [U+1F600]');
    expect(all).toContain('[U+4E0A][U+6D77][U+7F51][U+7EDC] (partner-sh)');
    expect(all).toContain('User agent Agent[U+001B][0m[U+000D][U+000A]X: 1');
    expect(countOf(all, CODE_POINT_NOTE)).toBe(1);
    // Latin-1 and the other WinAnsi characters are shown as they are.
    const latin = await rendered(recordDocument({ consents: [releaseConsent(recordTransfer(), { signedBy: 'Zoë Ørsted — “Müller” €' })] }));
    expect(flat(latin.text)).toContain('Signed by Zoë Ørsted — “Müller” €');
    expect(flat(latin.text)).not.toContain(CODE_POINT_NOTE);
  });

  it('renders a legacy consent, a declined transfer and a broken chain', async () => {
    const transfer = recordTransfer({ status: 'DECLINED', outcomes: undefined });
    const legacy = releaseConsent(transfer, { decision: 'decline', reason: 'We never agreed to this.', billing: undefined, reasonCode: null });
    const events = chained(doc.events.slice(0, 3));
    const { text } = await rendered(
      recordDocument({
        transfer,
        consents: [legacy],
        events,
        chain: { state: 'broken', events: 3, at: { seq: 2, type: 'APPROVAL_REQUESTED', at: events[1]?.at ?? null }, problem: 'it names a hash its predecessor does not have' },
      }),
    );
    const all = flat(text);
    expect(all).toContain('Decision Declined');
    expect(all).toContain('Reason Another reason (recorded before decline reasons had codes)');
    expect(all).toContain('Billing advice the signer saw Not kept for this consent');
    expect(all).toContain('Broken The chain does not hold from event #2 (Consent asked for)');
    // The mark sits under the event's number, on the table's next line.
    expect(text).toMatch(/\n2 2026-12-01 09:02 Consent asked for [^\n]*\nfirst bad /);
    expect(countOf(text, '\nfirst bad ')).toBe(1);
  });

  it('keeps the line breaks of a statement and wraps a long word without losing a character', async () => {
    const hash = 'ab'.repeat(150);
    const statement = `First line of the statement.\nSecond line, then a long token: ${hash}`;
    const { text } = await rendered(recordDocument({ consents: [releaseConsent(recordTransfer(), { statement })] }));
    expect(text).toMatch(/First line of the statement\.\s*\n\s*Second line, then a long token:/);
    expect(text.replace(/\s+/g, '')).toContain(hash);
  });
});
