import { describe, expect, it } from 'vitest';
import { directoryFileSchema, type DirectoryFile } from '../../../lambdas/domain/directory.ts';

const FILE: DirectoryFile = {
  partners: [
    { id: 'P-NORTH', name: 'Northwind IT', invoiceDay: 1, contacts: ['ops@northwind.example'] },
    { id: 'P.south_2:x', name: 'Southgate Networks', invoiceDay: 31, contacts: ['partners@southgate.example'] },
  ],
  customers: [
    {
      id: 'C-ACME',
      name: 'Acme Widgets',
      partnerId: 'P-NORTH',
      domains: ['acme.example'],
      settings: { spamThreshold: 5 },
      users: [{ email: 'it@acme.example', settings: { digest: 'daily' } }],
    },
  ],
};

/** The issues of a file the seed would refuse, each as path and message. */
function issuesOf(file: unknown): { path: string; message: string }[] {
  const result = directoryFileSchema.safeParse(file);
  if (result.success) throw new Error('expected the directory file to be refused');
  return result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

describe('the directory file the seed loads', () => {
  it('takes partners and their customers with domains, settings and users, as they are', () => {
    expect(directoryFileSchema.parse(FILE)).toEqual(FILE);
  });

  it('an id starts with a letter or digit and holds only letters, digits and . _ : - to its end', () => {
    for (const id of ['-P', '.P', 'P 1', 'P/1', 'P1\u00e9']) {
      const file = { ...FILE, partners: [{ ...FILE.partners[0], id }, FILE.partners[1]] };
      expect(issuesOf(file)).toContainEqual({ path: 'partners.0.id', message: 'may hold only letters, digits and . _ : -' });
    }
  });

  it('a customer must name a partner of the file, said with its place', () => {
    const file = { ...FILE, customers: [{ ...FILE.customers[0], partnerId: 'P-GONE' }] };
    expect(issuesOf(file)).toEqual([{ path: 'customers.0.partnerId', message: 'names unknown partner P-GONE' }]);
    expect(directoryFileSchema.safeParse(file).error?.issues[0]?.code).toBe('custom');
  });

  it('an invoice day is 1 to 31, and a partner has at least one contact', () => {
    const file = { ...FILE, partners: [{ ...FILE.partners[0], invoiceDay: 32, contacts: [] }, FILE.partners[1]] };
    expect(issuesOf(file).map((issue) => issue.path)).toEqual(['partners.0.invoiceDay', 'partners.0.contacts']);
  });
});
