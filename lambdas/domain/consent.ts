import type { CalendarDate } from './dates.ts';
import type { CustomerSummary, PartyRef, Step } from './transfer.ts';

/** The placeholder shown where the signer's typed name goes; the recorded text has the name instead. */
export const SIGNER_PLACEHOLDER = '[the full name typed below]';

export interface StatementInput {
  customers: CustomerSummary[];
  fromPartner: PartyRef;
  toPartner: PartyRef;
  transferDate: CalendarDate | null;
  immediate: boolean;
  signedBy?: string;
}

function customerList(customers: CustomerSummary[]): string {
  return customers.map((c) => `${c.name} (${c.id})`).join(', ');
}

function when(input: StatementInput): string {
  if (input.immediate) return 'immediately';
  return input.transferDate ? `on ${input.transferDate}` : 'on the date given below';
}

/** The exact text a releasing partner signs. */
export function releaseStatement(input: StatementInput): string {
  const signer = input.signedBy ?? SIGNER_PLACEHOLDER;
  return (
    `I, ${signer}, am authorised to act for ${input.fromPartner.name} (${input.fromPartner.id}). ` +
    `${input.fromPartner.name} releases the customer${input.customers.length > 1 ? 's' : ''} ` +
    `${customerList(input.customers)} to ${input.toPartner.name} (${input.toPartner.id}), ` +
    `to be transferred ${when(input)}. From that date ${input.fromPartner.name} no longer manages or bills ` +
    `${input.customers.length > 1 ? 'them' : 'it'}. Mail flow, domains, settings and users stay unchanged.`
  );
}

/** The exact text an accepting partner signs. */
export function acceptanceStatement(input: StatementInput): string {
  const signer = input.signedBy ?? SIGNER_PLACEHOLDER;
  return (
    `I, ${signer}, am authorised to act for ${input.toPartner.name} (${input.toPartner.id}). ` +
    `${input.toPartner.name} agrees to accept the customer${input.customers.length > 1 ? 's' : ''} ` +
    `${customerList(input.customers)} from ${input.fromPartner.name} (${input.fromPartner.id}) ` +
    `${when(input)}, and to manage and bill ${input.customers.length > 1 ? 'them' : 'it'} from that date.`
  );
}

/** The exact text a partner signs when it refuses. */
export function declineStatement(step: Step, input: StatementInput & { reason: string }): string {
  const signer = input.signedBy ?? SIGNER_PLACEHOLDER;
  const party = step === 'release' ? input.fromPartner : input.toPartner;
  return (
    `I, ${signer}, am authorised to act for ${party.name} (${party.id}). ` +
    `${party.name} declines the transfer of ${customerList(input.customers)} from ${input.fromPartner.name} ` +
    `to ${input.toPartner.name}. Reason: ${input.reason}`
  );
}

export function statementFor(step: Step, input: StatementInput): string {
  return step === 'release' ? releaseStatement(input) : acceptanceStatement(input);
}
