import * as z from './zod.ts';

/** The provider's directory of partners and their customers. */
export interface Partner {
  id: string;
  name: string;
  /** Day of the month the partner invoices (1 to 31; short months use their last day). */
  invoiceDay: number;
  contacts: string[];
}

export interface CustomerUser {
  email: string;
  settings: Record<string, unknown>;
}

/** A customer as served by GET /customers/{id}: everything mail flow depends on. */
export interface Customer {
  id: string;
  name: string;
  partnerId: string;
  domains: string[];
  settings: Record<string, unknown>;
  users: CustomerUser[];
}

/**
 * One page of a customer, as served by GET /customers/{id}: the next slice of its domains and of its
 * users, each in the directory's order, and a token for the rest while either has more.
 */
export interface CustomerPage extends Customer {
  nextToken?: string;
}

/** Who holds a customer now; small, so that moving ownership never rewrites mail data. */
export interface CustomerOwnership {
  id: string;
  name: string;
  partnerId: string;
  /** Last day of the post-transfer lock, if any. */
  lockedUntil: string | null;
}

/** A customer's first domains (in the directory's order) and how many it has in all. */
export interface FirstDomains {
  domains: string[];
  domainCount: number;
}

export interface DirectoryFile {
  partners: Partner[];
  customers: Customer[];
}

const id = z.string().check(z.minLength(1), z.maxLength(64), z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'may hold only letters, digits and . _ : -'));
const name = z.string().check(z.minLength(1), z.maxLength(200));
const settings = z.record(z.string(), z.unknown());

/** The directory file `npm run seed` loads; checked whole before anything is written. */
export const directoryFileSchema = z
  .strictObject({
    partners: z.array(
      z.strictObject({
        id,
        name,
        invoiceDay: z.number().check(z.int(), z.gte(1), z.lte(31)),
        contacts: z.array(z.email()).check(z.minLength(1)),
      }),
    ),
    customers: z.array(
      z.strictObject({
        id,
        name,
        partnerId: id,
        domains: z.array(z.string().check(z.minLength(1), z.maxLength(253))),
        settings,
        users: z.array(z.strictObject({ email: z.email(), settings })),
      }),
    ),
  })
  .check(
    z.superRefine((file, ctx) => {
      const partners = new Set(file.partners.map((p) => p.id));
      file.customers.forEach((customer, index) => {
        if (!partners.has(customer.partnerId)) {
          ctx.addIssue({ code: 'custom', path: ['customers', index, 'partnerId'], message: `names unknown partner ${customer.partnerId}` });
        }
      });
    }),
  );
