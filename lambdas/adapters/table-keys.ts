import type { Step } from '../domain/transfer.ts';

/** Key builders for every item of the single table (see table-schema.ts for the layout). */
export const keys = {
  partner: (id: string) => ({ pk: `PARTNER#${id}`, sk: 'PROFILE' }),
  ownership: (customerId: string) => ({ pk: `CUSTOMER#${customerId}`, sk: 'OWNER' }),
  customerSettings: (customerId: string) => ({ pk: `CUSTOMER#${customerId}`, sk: 'SETTINGS' }),
  domain: (customerId: string, domain: string) => ({ pk: `CUSTOMER#${customerId}`, sk: `DOMAIN#${domain}` }),
  user: (customerId: string, email: string) => ({ pk: `CUSTOMER#${customerId}`, sk: `USER#${email}` }),
  customerAudit: (customerId: string, at: string, transferId: string) => ({
    pk: `CUSTOMER#${customerId}`,
    sk: `AUDIT#${at}#${transferId}`,
  }),
  claim: (customerId: string) => ({ pk: `CUSTOMER#${customerId}`, sk: 'CLAIM' }),
  transfer: (id: string) => ({ pk: `TRANSFER#${id}`, sk: 'TRANSFER' }),
  transferCustomers: (id: string) => ({ pk: `TRANSFER#${id}`, sk: 'CUSTOMERS' }),
  party: (transferId: string, partnerId: string) => ({ pk: `TRANSFER#${transferId}`, sk: `PARTY#${partnerId}` }),
  event: (transferId: string, at: string, unique: string) => ({ pk: `TRANSFER#${transferId}`, sk: `EVENT#${at}#${unique}` }),
  step: (transferId: string, step: Step) => ({ pk: `TRANSFER#${transferId}`, sk: `STEP#${step}` }),
  link: (hash: string) => ({ pk: `LINK#${hash}`, sk: 'LINK' }),
};
