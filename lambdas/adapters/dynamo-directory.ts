import { BatchGetCommand, BatchWriteCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Customer, CustomerOwnership, CustomerUser, DirectoryFile, Partner } from '../domain/directory.ts';
import type { DirectoryPort } from '../domain/ports.ts';
import { keys } from './table-keys.ts';
import { queryPartition } from './query-partition.ts';
import { asTransient } from './transient.ts';

type Item = Record<string, unknown>;

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
    const owners = new Map<string, Item>();
    for (let start = 0; start < customerIds.length; start += 100) {
      let pending = customerIds.slice(start, start + 100).map((id) => keys.ownership(id));
      for (let attempt = 0; pending.length > 0 && attempt < 8; attempt += 1) {
        const result = await asTransient(() =>
          this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } })),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) owners.set(String(item.id), item);
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as typeof pending;
      }
    }
    const found = customerIds.filter((id) => owners.has(id));
    const domains = await Promise.all(found.map((id) => this.domainsOf(id)));
    return found.map((id, index) => {
      const item = owners.get(id) as Item;
      return {
        id,
        name: String(item.name),
        partnerId: String(item.partnerId),
        domains: domains[index] ?? [],
        lockedUntil: (item.lockedUntil as string | undefined) ?? null,
      };
    });
  }

  async getCustomer(id: string): Promise<Customer | undefined> {
    const items = await this.customerItems(id);
    const owner = items.find((item) => item.sk === 'OWNER');
    if (!owner) return undefined;
    const settings = items.find((item) => item.sk === 'SETTINGS');
    return {
      id,
      name: String(owner.name),
      partnerId: String(owner.partnerId),
      domains: items.filter((item) => String(item.sk).startsWith('DOMAIN#')).map((item) => String(item.domain)),
      settings: (settings?.settings as Record<string, unknown> | undefined) ?? {},
      users: items
        .filter((item) => String(item.sk).startsWith('USER#'))
        .map((item): CustomerUser => ({ email: String(item.email), settings: (item.settings as Record<string, unknown>) ?? {} })),
    };
  }

  /** Loads a directory file (partners and customers), replacing the items it names. */
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
    for (let start = 0; start < items.length; start += 25) {
      let pending = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt > 10) throw new Error('DynamoDB kept items unprocessed; try the load again.');
        const result = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = (result.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
      }
    }
    return { partners: directory.partners.length, customers: directory.customers.length, items: items.length };
  }

  private async domainsOf(customerId: string): Promise<string[]> {
    const items = await this.customerItems(customerId, 'DOMAIN#');
    return items.map((item) => String(item.domain));
  }

  private customerItems(customerId: string, prefix?: string): Promise<Item[]> {
    return queryPartition(this.db, this.tableName, `CUSTOMER#${customerId}`, prefix);
  }

}
