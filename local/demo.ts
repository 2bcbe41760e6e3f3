import { localStateDir, signLocalToken } from './jwt-keys.ts';
import { LocalClient } from './local-client.ts';

/**
 * `npm run demo`: one full transfer against the running local stack, as the partners would do it:
 * the new partner asks through the portal API, the current partner releases through the emailed
 * link, the new partner accepts through its link; then the workflow re-homes and confirms.
 */
const apiUrl = process.env.DEMO_API_URL ?? `http://127.0.0.1:${process.env.API_PORT ?? '3000'}`;
const sesUrl = process.env.DEMO_SES_URL ?? `http://127.0.0.1:${process.env.SES_PORT ?? '8005'}`;
const stateDir = localStateDir();

function say(line: string): void {
  console.log(line);
}

async function main(): Promise<void> {
  const client = new LocalClient(apiUrl, sesUrl);
  await client.health().catch(() => {
    throw new Error(`No local stack answers at ${apiUrl}: start it first with "npm start".`);
  });
  const newPartner = await signLocalToken({ stateDir, partnerId: 'P-BLUE', subject: 'dana@bluewave.example' });

  const candidates = ['C-1001', 'C-1002', 'C-1003'];
  const free: string[] = [];
  for (const id of candidates) {
    const owner = await client.call('GET', `/customers/${id}`, await signLocalToken({ stateDir, operator: true }));
    if (owner.status === 200 && (owner.body as { partnerId?: string }).partnerId === 'P-ACME') free.push(id);
  }
  if (free.length === 0) throw new Error('The demo customers of P-ACME have all moved already; restart "npm start" for a fresh directory.');
  const customerIds = free.slice(0, 2);

  say(`1. Bluewave Networks (P-BLUE) asks for ${customerIds.join(' and ')} from Acme IT Services (P-ACME)`);
  const since = Date.now() / 1000 - 1;
  const created = await client.call('POST', '/transfers', newPartner, {
    customerIds,
    toPartnerId: 'P-BLUE',
    note: 'Customer asked to consolidate its services with Bluewave.',
  });
  if (created.status !== 201) throw new Error(`Request refused: ${created.status} ${JSON.stringify(created.body)}`);
  const transfer = created.body as { id: string; billing: { advice: string } };
  say(`   → ${transfer.id} created; billing advice: ${transfer.billing.advice}`);

  const releaseLink = await client.waitForLink('billing@acme-it.example', since);
  say('2. Acme IT Services opens the emailed link (nothing changes) and signs the release for "immediate"');
  await client.openLink(releaseLink);
  const released = await client.submitLink(releaseLink, {
    decision: 'release',
    immediate: 'on',
    signedBy: 'Alice Smith',
    acknowledge: 'on',
  });
  if (released !== 200) throw new Error(`The release was not recorded (${released})`);

  const acceptLink = await client.waitForLink('partners@bluewave.example', since);
  say('3. Bluewave Networks opens its link and signs the acceptance');
  const accepted = await client.submitLink(acceptLink, { decision: 'accept', signedBy: 'Dana Lee', acknowledge: 'on' });
  if (accepted !== 200) throw new Error(`The acceptance was not recorded (${accepted})`);

  say('4. The workflow sleeps until the transfer date, re-homes the customers and sends confirmations…');
  const done = await client.waitForStatus(transfer.id, newPartner, ['COMPLETED', 'FAILED'], 120_000);
  say(`\nTransfer ${done.id}: ${done.status}\nTimeline:`);
  for (const event of done.history) {
    const who = event.actor.kind === 'system' ? 'workflow' : `${event.actor.name ?? ''} (${event.actor.partnerId ?? event.actor.kind})`;
    const signed = typeof event.detail.signedBy === 'string' ? ` signed "${event.detail.signedBy}"` : '';
    const customer = typeof event.detail.customerId === 'string' ? ` ${event.detail.customerId}` : '';
    say(`  ${event.at}  ${event.type.padEnd(20)} ${who}${signed}${customer}`);
  }
  const emails = await client.emails(since);
  say(`\nEmails sent: ${emails.length} (see ${sesUrl})`);
  for (const email of emails) say(`  → ${email.destination.to.join(', ')}: ${email.subject}`);
  if (done.status !== 'COMPLETED') process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
