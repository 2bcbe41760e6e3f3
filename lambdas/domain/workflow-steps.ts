import {
  approvalRequestEmail,
  confirmationEmail,
  declineNoticeEmail,
  expiryNoticeEmail,
  failureAlertEmail,
  scheduleNoticeEmail,
} from '../presentation/emails.ts';
import { hashSecret, newLinkSecret } from './approval-links.ts';
import { addDays, startOfDay } from './dates.ts';
import { ConflictError, RehomeFailed, TransferCancelled } from './errors.ts';
import type { Policy } from './policy.ts';
import type { Clock, CustomerOutcome, DirectoryPort, EmailMessage, MailerPort, TransferStorePort } from './ports.ts';
import type { TransferService } from './transfer-service.ts';
import { STEP_STATUS, type Actor, type Step, type TransferWithHistory } from './transfer.ts';

export interface WorkflowStepsDeps {
  store: TransferStorePort;
  directory: DirectoryPort;
  mailer: MailerPort;
  transfers: TransferService;
  clock: Clock;
  policy: Policy;
  publicBaseUrl: string;
  devopsEmail: string;
}

const SYSTEM: Actor = { kind: 'system', name: 'workflow' };

export type Outcome = 'DECLINED' | 'EXPIRED' | 'FAILED' | 'CONFIRMATION_FAILED';

/** The state machine's steps. Each may run more than once (retries, redrives) and stays correct when it does. */
export class WorkflowSteps {
  constructor(private readonly deps: WorkflowStepsDeps) {}

  /** Stores the wait's task token server-side and emails the party a fresh approval link. */
  async requestApproval(input: { transferId: string; step: Step; taskToken: string; approvalWindowSeconds: number }): Promise<void> {
    const { store, clock } = this.deps;
    const transfer = await this.load(input.transferId);
    const existing = await store.getStep(transfer.id, input.step);
    if (existing?.decision) {
      // Decided before the workflow got here (or while it retried): hand the decision over now.
      await this.deps.transfers.deliver(transfer.id, input.step, input.taskToken);
      return;
    }
    if (transfer.status === 'CANCELLED') throw new TransferCancelled(`Transfer ${transfer.id} was cancelled.`);
    if (transfer.status !== STEP_STATUS[input.step]) {
      throw new ConflictError('NOT_WAITING', `Transfer ${transfer.id} is ${transfer.status}, not waiting for the ${input.step}.`);
    }
    const party = input.step === 'release' ? transfer.fromPartner : transfer.toPartner;
    const partner = await this.deps.directory.getPartner(party.id);
    const secret = newLinkSecret();
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + input.approvalWindowSeconds * 1000).toISOString();
    const opened = await store.openStep({
      transferId: transfer.id,
      step: input.step,
      partnerId: party.id,
      taskToken: input.taskToken,
      linkHash: hashSecret(secret),
      supersedes: existing?.linkHash ?? null,
      expiresAt,
      event: {
        at: now.toISOString(),
        type: 'APPROVAL_REQUESTED',
        actor: SYSTEM,
        detail: { step: input.step, partnerId: party.id, recipients: partner?.contacts ?? [], expiresAt },
      },
    });
    if (!opened) {
      await this.deps.transfers.deliver(transfer.id, input.step, input.taskToken);
      return;
    }
    await this.deps.mailer.send(
      approvalRequestEmail({
        transfer,
        step: input.step,
        link: `${this.deps.publicBaseUrl.replace(/\/+$/, '')}/approvals/${secret}`,
        expiresAt,
        recipients: partner?.contacts ?? [],
      }),
    );
  }

  /** Escalates the agreed date to DevOps, tells both partners, and gives the instant to sleep until. */
  async scheduleTransfer(input: { transferId: string }): Promise<{ wakeAt: string; transferDate: string }> {
    const transfer = await this.load(input.transferId);
    if (transfer.status === 'CANCELLED') throw new TransferCancelled(`Transfer ${transfer.id} was cancelled.`);
    if (transfer.status !== 'SCHEDULED' || !transfer.transferDate) {
      throw new ConflictError('NOT_SCHEDULED', `Transfer ${transfer.id} is ${transfer.status}, not scheduled.`);
    }
    const wakeAt = startOfDay(transfer.transferDate, this.deps.policy.timeZone).toISOString();
    const partners = await this.partnerContacts(transfer);
    await this.sendAll([
      scheduleNoticeEmail({ transfer, wakeAt, recipients: [this.deps.devopsEmail], audience: 'devops' }),
      scheduleNoticeEmail({ transfer, wakeAt, recipients: [...partners.from, ...partners.to], audience: 'partner' }),
    ]);
    await this.deps.store.appendEvent(transfer.id, {
      at: this.deps.clock.now().toISOString(),
      type: 'SCHEDULED',
      actor: SYSTEM,
      detail: {
        transferDate: transfer.transferDate,
        immediate: transfer.immediate,
        wakeAt,
        timeZone: this.deps.policy.timeZone,
        escalatedTo: this.deps.devopsEmail,
      },
    });
    return { wakeAt, transferDate: transfer.transferDate };
  }

  /**
   * Moves ownership of each customer, one transaction per customer. Customers moved by an earlier
   * attempt are recognised and left alone, so a retry or redrive finishes the rest.
   */
  async rehomeCustomers(input: { transferId: string }): Promise<{ outcomes: CustomerOutcome[] }> {
    const { store, clock } = this.deps;
    let transfer = await this.load(input.transferId);
    if (transfer.status === 'CANCELLED') throw new TransferCancelled(`Transfer ${transfer.id} was cancelled.`);
    if (transfer.status === 'COMPLETED') return { outcomes: transfer.outcomes ?? [] };
    if (transfer.status === 'SCHEDULED') {
      try {
        await store.changeStatus({
          transferId: transfer.id,
          from: ['SCHEDULED'],
          to: 'IN_PROGRESS',
          at: clock.now().toISOString(),
          event: { at: clock.now().toISOString(), type: 'REHOME_STARTED', actor: SYSTEM, detail: {} },
        });
      } catch (error) {
        // A cancel that won the race stands: the customers stay where they are.
        if (error instanceof ConflictError && (await this.load(transfer.id)).status === 'CANCELLED') {
          throw new TransferCancelled(`Transfer ${transfer.id} was cancelled.`);
        }
        throw error;
      }
      transfer = await this.load(input.transferId);
    }
    if (transfer.status !== 'IN_PROGRESS') {
      throw new ConflictError('NOT_SCHEDULED', `Transfer ${transfer.id} is ${transfer.status}; it cannot be re-homed.`);
    }
    const today = this.deps.transfers.today();
    const lockedUntil = addDays(today, this.deps.policy.lockDays);
    const outcomes: CustomerOutcome[] = [];
    for (const customer of transfer.customers) {
      const at = clock.now().toISOString();
      const result = await store.moveCustomer({
        transferId: transfer.id,
        customerId: customer.id,
        fromPartnerId: transfer.fromPartner.id,
        toPartnerId: transfer.toPartner.id,
        lockedUntil,
        at,
        event: {
          at,
          type: 'CUSTOMER_MOVED',
          actor: SYSTEM,
          detail: { customerId: customer.id, fromPartnerId: transfer.fromPartner.id, toPartnerId: transfer.toPartner.id, lockedUntil },
        },
      });
      outcomes.push(
        result === 'not-movable'
          ? {
              customerId: customer.id,
              outcome: 'failed',
              reason: `no longer owned by ${transfer.fromPartner.id} or no longer claimed by this transfer; left unchanged`,
            }
          : { customerId: customer.id, outcome: result },
      );
    }
    const failed = outcomes.filter((o) => o.outcome === 'failed');
    if (failed.length > 0) {
      await store.appendEvent(transfer.id, {
        at: clock.now().toISOString(),
        type: 'REHOME_INCOMPLETE',
        actor: SYSTEM,
        detail: { outcomes },
      });
      throw new RehomeFailed(
        `${failed.length} of ${outcomes.length} customers could not be moved: ${failed.map((f) => f.customerId).join(', ')}`,
      );
    }
    await store.changeStatus({
      transferId: transfer.id,
      from: ['IN_PROGRESS'],
      to: 'COMPLETED',
      at: clock.now().toISOString(),
      changes: { outcomes },
      event: { at: clock.now().toISOString(), type: 'COMPLETED', actor: SYSTEM, detail: { outcomes, lockedUntil } },
    });
    return { outcomes };
  }

  async sendConfirmations(input: { transferId: string }): Promise<void> {
    const transfer = await this.load(input.transferId);
    if (transfer.status !== 'COMPLETED') {
      throw new ConflictError('NOT_COMPLETED', `Transfer ${transfer.id} is ${transfer.status}; nothing to confirm.`);
    }
    const partners = await this.partnerContacts(transfer);
    await this.sendAll([
      confirmationEmail({ transfer, recipients: partners.from, recipientRole: 'previous' }),
      confirmationEmail({ transfer, recipients: partners.to, recipientRole: 'new' }),
    ]);
    await this.deps.store.appendEvent(transfer.id, {
      at: this.deps.clock.now().toISOString(),
      type: 'CONFIRMATIONS_SENT',
      actor: SYSTEM,
      detail: { previousPartner: partners.from, newPartner: partners.to },
    });
  }

  /** The ends other than success: each recorded on the transfer, and the people concerned told. */
  async recordOutcome(input: { transferId: string; outcome: Outcome; error?: string; cause?: string }): Promise<void> {
    const { store, clock } = this.deps;
    const transfer = await this.load(input.transferId);
    const partners = await this.partnerContacts(transfer);
    const at = clock.now().toISOString();
    switch (input.outcome) {
      case 'DECLINED': {
        const decline = [...transfer.history].reverse().find((e) => e.type === 'DECLINED');
        const step = (decline?.detail.step as Step | undefined) ?? 'release';
        await this.sendAll([
          declineNoticeEmail({
            transfer,
            step,
            signedBy: String(decline?.detail.signedBy ?? ''),
            reason: String(decline?.detail.reason ?? ''),
            recipients: [...partners.from, ...partners.to],
          }),
        ]);
        await store.appendEvent(transfer.id, { at, type: 'DECLINE_NOTICE_SENT', actor: SYSTEM, detail: { step } });
        return;
      }
      case 'EXPIRED': {
        const step: Step = transfer.status === 'AWAITING_ACCEPTANCE' ? 'acceptance' : 'release';
        if (transfer.status === 'AWAITING_RELEASE' || transfer.status === 'AWAITING_ACCEPTANCE') {
          await store.changeStatus({
            transferId: transfer.id,
            from: ['AWAITING_RELEASE', 'AWAITING_ACCEPTANCE'],
            to: 'EXPIRED',
            at,
            releaseClaims: true,
            event: { at, type: 'EXPIRED', actor: SYSTEM, detail: { step, approvalWindowSeconds: this.deps.policy.approvalWindowSeconds } },
          });
        }
        await this.sendAll([expiryNoticeEmail({ transfer, step, recipients: [...partners.from, ...partners.to] })]);
        return;
      }
      case 'FAILED': {
        const outcomes = lastOutcomes(transfer);
        const error = describeFailure(input.error, input.cause);
        if (transfer.status === 'IN_PROGRESS' || transfer.status === 'SCHEDULED') {
          await store.changeStatus({
            transferId: transfer.id,
            from: ['IN_PROGRESS', 'SCHEDULED'],
            to: 'FAILED',
            at,
            releaseClaims: true,
            changes: { outcomes },
            event: { at, type: 'FAILED', actor: SYSTEM, detail: { error, outcomes } },
          });
        }
        await this.sendAll([failureAlertEmail({ transfer, outcomes, error, recipients: [this.deps.devopsEmail] })]);
        return;
      }
      case 'CONFIRMATION_FAILED': {
        const error = describeFailure(input.error, input.cause);
        await store.appendEvent(transfer.id, { at, type: 'CONFIRMATION_FAILED', actor: SYSTEM, detail: { error } });
        await this.sendAll([
          failureAlertEmail({ transfer, outcomes: transfer.outcomes ?? [], error: `Confirmations not sent: ${error}`, recipients: [this.deps.devopsEmail] }),
        ]);
        return;
      }
    }
  }

  private async load(id: string): Promise<TransferWithHistory> {
    const transfer = await this.deps.store.get(id);
    if (!transfer) throw new Error(`Transfer ${id} does not exist`);
    return transfer;
  }

  private async partnerContacts(transfer: TransferWithHistory): Promise<{ from: string[]; to: string[] }> {
    const [from, to] = await Promise.all([
      this.deps.directory.getPartner(transfer.fromPartner.id),
      this.deps.directory.getPartner(transfer.toPartner.id),
    ]);
    return { from: from?.contacts ?? [], to: to?.contacts ?? [] };
  }

  private async sendAll(messages: EmailMessage[]): Promise<void> {
    for (const message of messages) await this.deps.mailer.send(message);
  }
}

function lastOutcomes(transfer: TransferWithHistory): CustomerOutcome[] {
  const incomplete = [...transfer.history].reverse().find((e) => e.type === 'REHOME_INCOMPLETE');
  const outcomes = incomplete?.detail.outcomes as CustomerOutcome[] | undefined;
  return outcomes ?? transfer.customers.map((c) => ({ customerId: c.id, outcome: 'failed' as const, reason: 'not attempted' }));
}

/** Step Functions hands a Lambda error over as its name and a JSON cause; keep the message, drop the stack. */
function describeFailure(error: string | undefined, cause: string | undefined): string {
  let message = cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: string };
    if (parsed.errorMessage) message = parsed.errorMessage;
  } catch {
    // a plain-text cause is kept as it is
  }
  return [error, message].filter(Boolean).join(': ').slice(0, 1000) || 'unknown error';
}
