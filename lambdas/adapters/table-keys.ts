import type { Step } from '../domain/transfer.ts';

/**
 * Sort key prefix of a transfer's customers. It sorts before every other item of the transfer
 * (CUSTOMER# < EVENT# < PARTY# < STEP# < TRANSFER), so one query from TRANSFER_OWN_ITEMS_AFTER on
 * reads the transfer's own items without its customers' domains.
 */
export const TRANSFER_CUSTOMER_PREFIX = 'CUSTOMER#';
/** '$' sorts right after '#': every CUSTOMER#… key sorts before it, the legacy CUSTOMERS item after it. */
export const TRANSFER_OWN_ITEMS_AFTER = 'CUSTOMER$';
/** Sort key prefix of a transfer's outbox events: '#' sorts before every other item of the transfer. */
export const OUTBOX_PREFIX = '#OUTBOX#';

/** Sort key prefix of webhook deliveries: in a transfer's partition, '#' keeps them out of every read of the transfer. */
export const DELIVERY_PREFIX = '#DELIVERY#';
/** Sort key prefix of an endpoint's delivery slots, in its webhook's partition. */
export const SLOT_PREFIX = 'SLOT#';
/** The owner key of the provider's own webhooks (partner ids start with a letter or digit). */
const PROVIDER_OWNER = '*provider';

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
  /** One customer of a transfer with its domain snapshot. */
  transferCustomer: (id: string, customerId: string) => ({ pk: `TRANSFER#${id}`, sk: `${TRANSFER_CUSTOMER_PREFIX}${customerId}` }),
  /** Written before the per-customer items existed (every customer with all its domains); read only for transfers filed then. */
  legacyTransferCustomers: (id: string) => ({ pk: `TRANSFER#${id}`, sk: 'CUSTOMERS' }),
  party: (transferId: string, partnerId: string) => ({ pk: `TRANSFER#${transferId}`, sk: `PARTY#${partnerId}` }),
  event: (transferId: string, at: string, unique: string) => ({ pk: `TRANSFER#${transferId}`, sk: `EVENT#${at}#${unique}` }),
  step: (transferId: string, step: Step) => ({ pk: `TRANSFER#${transferId}`, sk: `STEP#${step}` }),
  link: (hash: string) => ({ pk: `LINK#${hash}`, sk: 'LINK' }),
  /**
   * An event in the outbox, written with the change it tells of; the table's stream carries it to the relay.
   * In its transfer's partition, so that the stream hands a transfer's events in the order written (one
   * partition, one shard); its sort key sorts before `CUSTOMER#`, so reading a transfer never reads them.
   */
  outbox: (transferId: string, eventId: string) => ({ pk: `TRANSFER#${transferId}`, sk: `${OUTBOX_PREFIX}${eventId}` }),
  /** A webhook, found by its id (to deliver, test or remove it). */
  webhook: (id: string) => ({ pk: `WEBHOOK#${id}`, sk: 'WEBHOOK' }),
  /** The same webhook under its owner (a partner, or null for the provider), listed with its siblings. */
  ownedWebhook: (owner: string | null, id: string) => ({ pk: `WEBHOOKS#${owner ?? PROVIDER_OWNER}`, sk: `WEBHOOK#${id}` }),
  ownerWebhooks: (owner: string | null) => ({ pk: `WEBHOOKS#${owner ?? PROVIDER_OWNER}`, prefix: 'WEBHOOK#' }),
  /** One of the slots that cap the tries to a webhook's endpoint at once, leased per try. */
  endpointSlot: (webhookId: string, slot: number) => ({ pk: `WEBHOOK#${webhookId}`, sk: `${SLOT_PREFIX}${slot}` }),
  /** A delivery that failed for good, listed under its webhook's owner, newest last. */
  webhookFailure: (owner: string | null, at: string, eventId: string, webhookId: string) => ({
    pk: `WEBHOOKS#${owner ?? PROVIDER_OWNER}`,
    sk: `FAILURE#${at}#${eventId}#${webhookId}`,
  }),
  ownerFailures: (owner: string | null) => ({ pk: `WEBHOOKS#${owner ?? PROVIDER_OWNER}`, prefix: 'FAILURE#' }),
  /** One event for one webhook: in the transfer's partition (the operator view reads them with it), a test under its webhook. */
  delivery: (ref: { webhookId: string; eventId: string; transferId: string | null }) =>
    ref.transferId === null
      ? { pk: `WEBHOOK#${ref.webhookId}`, sk: `${DELIVERY_PREFIX}${ref.eventId}` }
      : { pk: `TRANSFER#${ref.transferId}`, sk: `${DELIVERY_PREFIX}${ref.webhookId}#${ref.eventId}` },
};
