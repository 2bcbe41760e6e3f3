/**
 * The closed list of grounds on which a partner declines a transfer, so that declines can be
 * counted and reported; `OTHER` needs the reason written out. Labels are what people read.
 */
export const DECLINE_REASON_CODES = [
  'OUTSTANDING_BALANCE',
  'CONTRACT_IN_FORCE',
  'CUSTOMER_NOT_CONSENTED',
  'DISPUTE',
  'WRONG_CUSTOMER_OR_PARTNER',
  'OTHER',
] as const;
export type DeclineReasonCode = (typeof DECLINE_REASON_CODES)[number];

export const DECLINE_REASON_LABELS: Record<DeclineReasonCode, string> = {
  OUTSTANDING_BALANCE: 'The customer has an outstanding balance',
  CONTRACT_IN_FORCE: 'A contract with the customer is still in force',
  CUSTOMER_NOT_CONSENTED: 'The customer has not agreed to the transfer',
  DISPUTE: 'There is a dispute about the customer',
  WRONG_CUSTOMER_OR_PARTNER: 'Wrong customer or partner',
  OTHER: 'Another reason',
};

export function declineReasonLabel(code: DeclineReasonCode): string {
  return DECLINE_REASON_LABELS[code];
}

/** The ground as the signed statement and the notices put it: the label, with the partner's own words when given. */
export function declineGround(code: DeclineReasonCode, reason: string | null): string {
  const text = reason?.trim() ?? '';
  if (code === 'OTHER') return text || DECLINE_REASON_LABELS.OTHER;
  return text ? `${DECLINE_REASON_LABELS[code]}: ${text}` : DECLINE_REASON_LABELS[code];
}
