/**
 * The single table's key schema, shared by the CDK table, the local table and the adapters.
 *
 * | item                | pk                  | sk                       | gsi1 (by party)              | gsi2 (by party and status)            |
 * |---------------------|---------------------|--------------------------|------------------------------|---------------------------------------|
 * | partner             | PARTNER#<id>        | PROFILE                  |                              |                                       |
 * | customer ownership  | CUSTOMER#<id>       | OWNER                    |                              |                                       |
 * | customer settings   | CUSTOMER#<id>       | SETTINGS                 |                              |                                       |
 * | customer domain     | CUSTOMER#<id>       | DOMAIN#<name>            |                              |                                       |
 * | customer user       | CUSTOMER#<id>       | USER#<email>             |                              |                                       |
 * | customer audit      | CUSTOMER#<id>       | AUDIT#<at>#<transfer>    |                              |                                       |
 * | claim (active)      | CUSTOMER#<id>       | CLAIM                    |                              |                                       |
 * | transfer            | TRANSFER#<id>       | TRANSFER                 | ALL / <createdAt>#<id>       | ALL#<status> / <createdAt>#<id>       |
 * | transfer customer   | TRANSFER#<id>       | CUSTOMER#<customerId>    |                              |                                       |
 * | transfer party view | TRANSFER#<id>       | PARTY#<partnerId>        | PARTY#<p> / <createdAt>#<id> | PARTY#<p>#<status> / <createdAt>#<id> |
 * | history event       | TRANSFER#<id>       | EVENT#<at>#<seq>         |                              |                                       |
 * | approval step       | TRANSFER#<id>       | STEP#<release|acceptance>|                              |                                       |
 * | approval link       | LINK#<sha256 hex>   | LINK                     |                              |                                       |
 *
 * The transfer item holds each customer's summary (id, name, domainCount); a transfer customer item
 * holds that customer's domain snapshot (at most 1,000 names, 64 KiB). Transfers filed before then have
 * one legacy item, TRANSFER#<id> / CUSTOMERS, read only for them. Approval links carry TTL_ATTRIBUTE.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
} as const;

/** The indexes project keys only: listings read the transfers themselves, and status changes stay cheap. */
export const TABLE_INDEXES = [
  { indexName: 'byParty', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  { indexName: 'byPartyStatus', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
] as const;

/** Epoch-seconds attribute DynamoDB's TTL removes expired items by. */
export const TTL_ATTRIBUTE = 'expiresAtEpoch';
