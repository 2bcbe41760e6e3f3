import * as z from 'zod';

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

/** Who holds a customer now; small, so that moving ownership never rewrites mail data. */
export interface CustomerOwnership {
  id: string;
  name: string;
  partnerId: string;
  domains: string[];
  /** Last day of the post-transfer lock, if any. */
  lockedUntil: string | null;
}

export interface DirectoryFile {
  partners: Partner[];
  customers: Customer[];
}

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'may hold only letters, digits and . _ : -');
const settings = z.record(z.string(), z.unknown());

/** The directory file `npm run seed` loads; checked whole before anything is written. */
export const directoryFileSchema = z
  .strictObject({
    partners: z.array(
      z.strictObject({
        id,
        name: z.string().min(1).max(200),
        invoiceDay: z.number().int().min(1).max(31),
        contacts: z.array(z.email()).min(1),
      }),
    ),
    customers: z.array(
      z.strictObject({
        id,
        name: z.string().min(1).max(200),
        partnerId: id,
        domains: z.array(z.string().min(1).max(253)),
        settings,
        users: z.array(z.strictObject({ email: z.email(), settings })),
      }),
    ),
  })
  .superRefine((file, ctx) => {
    const partners = new Set(file.partners.map((p) => p.id));
    file.customers.forEach((customer, index) => {
      if (!partners.has(customer.partnerId)) {
        ctx.addIssue({ code: 'custom', path: ['customers', index, 'partnerId'], message: `names unknown partner ${customer.partnerId}` });
      }
    });
  });
