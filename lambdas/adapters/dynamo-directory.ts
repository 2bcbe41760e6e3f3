import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CustomerOwnership, CustomerPage, CustomerUser, DirectoryFile, FirstDomains, Partner } from '../domain/directory.ts';
import { ValidationError } from '../domain/errors.ts';
import type { DirectoryPort } from '../domain/ports.ts';
import { batchGetAll, batchWriteAll, DEFAULT_BACKOFF } from './batch.ts';
import { keys } from './table-keys.ts';
import { asTransient } from './transient.ts';

type Item = Record<string, unknown>;

const DOMAIN_PREFIX = 'DOMAIN#';
const USER_PREFIX = 'USER#';

/**
 * Partners and customers. A customer's ownership is one small item; its domains, settings and
 * users are items of their own, so moving ownership never rewrites (or risks) mail-flow data.
 */
export class DynamoDirectory implements DirectoryPort {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getPartner(id: string): Promise<Partner | undefined> {
    const result = await asTransient(() => this.db.send(new GetCommand({ TableName: this.tableName, Key: keys.partner(id) })));
    if (!result.Item) return undefined;
    const { name, invoiceDay, contacts } = result.Item as { name: string; invoiceDay: number; contacts: string[] };
    return { id, name, invoiceDay, contacts };
  }

  async getOwnerships(customerIds: string[]): Promise<CustomerOwnership[]> {
    const items = await batchGetAll(this.db, this.tableName, customerIds.map((id) => keys.ownership(id)), { consistent: true });
    const owners = new Map(items.map((item) => [String(item.id), item]));
    return customerIds.flatMap((id) => {
      const item = owners.get(id);
      if (!item) return [];
      return [{ id, name: String(item.name), partnerId: String(item.partnerId), lockedUntil: (item.lockedUntil as string | undefined) ?? null }];
    });
  }

  /** One query per customer, all at once; counting needs every page, but only the first `limit` names are kept. */
  async firstDomains(customerIds: string[], limit: number): Promise<Map<string, FirstDomains>> {
    const found = await Promise.all(
      customerIds.map(async (id): Promise<[string, FirstDomains]> => {
        const domains: string[] = [];
        let domainCount = 0;
        let startKey: Item | undefined;
        do {
          const page = await this.query(id, DOMAIN_PREFIX, { startKey, projection: 'domain' });
          domainCount += page.items.length;
          for (const item of page.items) if (domains.length < limit) domains.push(String(item.domain));
          startKey = page.lastKey;
        } while (startKey);
        return [id, { domains, domainCount }];
      }),
    );
    return new Map(found);
  }

  /**
   * One page of a customer, in one round of reads: its owner and settings items, at most `page.domains`
   * domains and `page.users` users (each a single Query, so never more than 1 MB of either).
   */
  async getCustomer(id: string, page: { users: number; domains: number; nextToken?: string }): Promise<CustomerPage | undefined> {
    const cursor = page.nextToken ? decodeCustomerToken(page.nextToken, id) : { domain: undefined, user: undefined };
    const get = (Key: Item) => asTransient(() => this.db.send(new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true })));
    const slice = async (prefix: string, after: string | null | undefined, limit: number): Promise<{ items: Item[]; lastKey: Item | undefined }> => {
      if (after === null) return { items: [], lastKey: undefined };
      // One more than a page: a page that ends the list then says so, rather than leave an empty page to follow.
      const found = await this.query(id, prefix, { limit: limit + 1, ...(after ? { startKey: { ...keys.ownership(id), sk: after } } : {}) });
      if (found.items.length <= limit) return found;
      const items = found.items.slice(0, limit);
      const last = items[items.length - 1];
      return { items, lastKey: last ? { pk: last.pk, sk: last.sk } : undefined };
    };
    const [owner, settings, domains, users] = await Promise.all([
      get(keys.ownership(id)),
      get(keys.customerSettings(id)),
      slice(DOMAIN_PREFIX, cursor.domain, page.domains),
      slice(USER_PREFIX, cursor.user, page.users),
    ]);
    if (!owner.Item) return undefined;
    const next = {
      domain: domains.lastKey ? String(domains.lastKey.sk) : null,
      user: users.lastKey ? String(users.lastKey.sk) : null,
    };
    return {
      id,
      name: String(owner.Item.name),
      partnerId: String(owner.Item.partnerId),
      domains: domains.items.map((item) => String(item.domain)),
      settings: (settings.Item?.settings as Record<string, unknown> | undefined) ?? {},
      users: users.items.map((item): CustomerUser => ({ email: String(item.email), settings: (item.settings as Record<string, unknown>) ?? {} })),
      ...(next.domain !== null || next.user !== null ? { nextToken: encodeCustomerToken(id, next) } : {}),
    };
  }

  /** Loads a directory file (partners and customers), replacing the items it names, in batches of 25, 8 at a time. */
  async load(directory: DirectoryFile, now: Date = new Date()): Promise<{ partners: number; customers: number; items: number }> {
    const at = now.toISOString();
    const items: Item[] = [
      ...directory.partners.map((p) => ({ ...keys.partner(p.id), kind: 'partner', id: p.id, name: p.name, invoiceDay: p.invoiceDay, contacts: p.contacts })),
      ...directory.customers.flatMap((c) => [
        { ...keys.ownership(c.id), kind: 'ownership', id: c.id, name: c.name, partnerId: c.partnerId, updatedAt: at },
        { ...keys.customerSettings(c.id), kind: 'settings', settings: c.settings },
        ...c.domains.map((domain) => ({ ...keys.domain(c.id, domain), kind: 'domain', domain })),
        ...c.users.map((user) => ({ ...keys.user(c.id, user.email), kind: 'user', email: user.email, settings: user.settings })),
      ]),
    ];
    // A load is a one-off job, not a request: it may wait longer for throttled batches than a request would.
    await batchWriteAll(
      this.db,
      this.tableName,
      items.map((Item) => ({ PutRequest: { Item } })),
      { concurrency: 8, backoff: { ...DEFAULT_BACKOFF, attempts: 10, maxMs: 5000 } },
    );
    return { partners: directory.partners.length, customers: directory.customers.length, items: items.length };
  }

  private async query(
    customerId: string,
    prefix: string,
    options: { startKey?: Item | undefined; limit?: number; projection?: string },
  ): Promise<{ items: Item[]; lastKey: Item | undefined }> {
    const result = await asTransient(() =>
      this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': `CUSTOMER#${customerId}`, ':prefix': prefix },
          ...(options.projection ? { ProjectionExpression: '#p', ExpressionAttributeNames: { '#p': options.projection } } : {}),
          ...(options.limit ? { Limit: options.limit } : {}),
          ConsistentRead: true,
          ExclusiveStartKey: options.startKey,
        }),
      ),
    );
    return { items: result.Items ?? [], lastKey: result.LastEvaluatedKey };
  }
}

/** Where the next page of a customer starts: after these sort keys, or nothing more (null). */
interface CustomerCursor {
  domain: string | null;
  user: string | null;
}

/** Opaque to callers, bound to the customer it came from. */
function encodeCustomerToken(customerId: string, cursor: CustomerCursor): string {
  return Buffer.from(JSON.stringify({ c: customerId, d: cursor.domain, u: cursor.user })).toString('base64url');
}

function decodeCustomerToken(token: string, customerId: string): CustomerCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const key = (v: unknown, prefix: string) => v === null || (typeof v === 'string' && v.startsWith(prefix) && v.length > prefix.length && v.length <= 1024);
  const { c, d, u } = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  const valid =
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).sort().join() === 'c,d,u' &&
    c === customerId &&
    key(d, DOMAIN_PREFIX) &&
    key(u, USER_PREFIX) &&
    !(d === null && u === null);
  if (!valid) throw new ValidationError('nextToken does not belong to this customer\'s pages; start again without it.');
  return { domain: d as string | null, user: u as string | null };
}
