import { hashSecret, linkSecret, newLinkNonce } from './approval-links.ts';
import { addDays, startOfDay } from './dates.ts';
import { ConflictError, RehomeFailed, TransferCancelled } from './errors.ts';
import { alertMessage, alertSubject, recordedReasonCode, type FailureAlertNotice, type Notice } from './notices.ts';
import type { Policy } from './policy.ts';
import {
  NO_METRICS,
  type AlertPort,
  type Clock,
  type CustomerOutcome,
  type DirectoryPort,
  type LinkKeyPort,
  type MailerPort,
  type MetricsPort,
  type TransferState,
  type TransferStorePort,
} from './ports.ts';
import type { TransferService } from './transfer-service.ts';
import { STEP_STATUS, type Actor, type HistoryEvent, type Step, type TransferSummaryWithHistory, type TransferWithHistory } from './transfer.ts';

export interface WorkflowStepsDeps {
  store: TransferStorePort;
  directory: DirectoryPort;
  mailer: MailerPort;
  alerts: AlertPort;
  linkKey: LinkKeyPort;
  transfers: TransferService;
  clock: Clock;
  policy: Policy;
  metrics?: MetricsPort;
  publicBaseUrl: string;
  devopsEmail: string;
}

const SYSTEM: Actor = { kind: 'system', name: 'workflow' };

export type Outcome = 'DECLINED' | 'CONFIRMATION_FAILED';

/** The state machine's steps. Each may run more than once (retries, redrives) and stays correct when it does. */
export class WorkflowSteps {
  private readonly metrics: MetricsPort;

  constructor(private readonly deps: WorkflowStepsDeps) {
    this.metrics = deps.metrics ?? NO_METRICS;
  }

  /**
   * Stores the wait's task token server-side and emails the party an approval link. A wait resumed
   * after a reminder keeps its link and its deadline; only the token changes.
   */
  async requestApproval(input: { transferId: string; step: Step; taskToken: string; approvalWindowSeconds: number }): Promise<void> {
    const { store, clock } = this.deps;
    // One read finds the transfer and its step; its customers' domains are read only to email a new link.
    const { transfer, steps } = await this.state(input.transferId);
    const existing = steps[input.step];
    if (existing?.decision) {
      // Decided before the workflow got here (or while it retried): hand the decision over now.
      await this.deps.transfers.deliver(transfer.id, input.step, input.taskToken);
      return;
    }
    this.assertWaiting(transfer, input.step);
    const party = input.step === 'release' ? transfer.fromPartner : transfer.toPartner;
    const now = clock.now();
    // A step has one link and one deadline for its whole window: a wait resumed late (even past the
    // deadline) keeps them, times out at once and lets "remind or expire" close the step.
    const current =
      existing?.linkHash && existing.linkNonce && existing.expiresAt
        ? { hash: existing.linkHash, nonce: existing.linkNonce, expiresAt: existing.expiresAt, sent: existing.linkSentAt !== null }
        : null;
    const nonce = current?.nonce ?? newLinkNonce();
    const expiresAt = current?.expiresAt ?? new Date(now.getTime() + input.approvalWindowSeconds * 1000).toISOString();
    const secret = linkSecret(await this.deps.linkKey.key(), transfer.id, input.step, nonce);
    // A wait resumed after a reminder, its link already sent, only stores its new token: no partner to read.
    const partner = current?.sent ? undefined : await this.deps.directory.getPartner(party.id);
    const opened = await store.openStep({
      transferId: transfer.id,
      step: input.step,
      partnerId: party.id,
      taskToken: input.taskToken,
      linkHash: hashSecret(secret),
      linkNonce: nonce,
      newLink: current === null,
      supersedes: current === null ? (existing?.linkHash ?? null) : null,
      expiresAt,
      at: now.toISOString(),
      event: current
        ? null
        : {
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
    if (current?.sent) return;
    await this.deps.mailer.send({
      kind: 'approval-request',
      transfer: await this.deps.transfers.withCustomers(transfer),
      step: input.step,
      link: this.linkUrl(secret),
      expiresAt,
      recipients: partner?.contacts ?? [],
    });
    await store.markLinkSent(transfer.id, input.step, clock.now().toISOString());
  }

  /**
   * Runs when a wait times out: before the window closes, reminds the silent party with the same
   * link and says how long to wait next; after it, expires the transfer and tells both partners.
   */
  async remindOrExpire(input: { transferId: string; step: Step; reminderIntervalSeconds: number }): Promise<{ expired: boolean; seconds: number }> {
    // Taken before the read: a reminder names the step as it stood at its time or later, never earlier.
    const now = this.deps.clock.now();
    const { transfer, steps } = await this.state(input.transferId);
    const step = steps[input.step];
    // A decision that lost the race with the timeout: resume the wait, which delivers it at once.
    if (step?.decision) return { expired: false, seconds: 1 };
    this.assertWaiting(transfer, input.step);
    const deadline = step?.expiresAt ? Date.parse(step.expiresAt) : now.getTime();
    if (now.getTime() >= deadline || !step?.linkNonce || !step.expiresAt) {
      return (await this.expire(transfer, input.step)) ? { expired: true, seconds: 0 } : { expired: false, seconds: 1 };
    }
    await this.sendReminder(transfer, input.step, { linkNonce: step.linkNonce, expiresAt: step.expiresAt }, { actor: SYSTEM, at: now });
    const remaining = Math.ceil((deadline - now.getTime()) / 1000);
    return { expired: false, seconds: Math.max(1, Math.min(input.reminderIntervalSeconds, remaining)) };
  }

  /**
   * Emails the party its current link again (same link, same deadline) and records it; answers the
   * transfer as it now stands. `at` is the reminder's time: taken before `transfer` was read, so that a
   * change recorded before it (an extension) is always one the reminder names.
   */
  async sendReminder(
    transfer: TransferSummaryWithHistory,
    step: Step,
    link: { linkNonce: string; expiresAt: string },
    reminder: { actor: Actor; at: Date; detail?: Record<string, unknown> },
  ): Promise<TransferWithHistory> {
    const { actor, detail = {} } = reminder;
    const at = reminder.at.toISOString();
    const party = step === 'release' ? transfer.fromPartner : transfer.toPartner;
    const [partner, key, full] = await Promise.all([
      this.deps.directory.getPartner(party.id),
      this.deps.linkKey.key(),
      this.deps.transfers.withCustomers(transfer),
    ]);
    const secret = linkSecret(key, transfer.id, step, link.linkNonce);
    await this.deps.mailer.send({
      kind: 'approval-request',
      transfer: full,
      step,
      link: this.linkUrl(secret),
      expiresAt: link.expiresAt,
      recipients: partner?.contacts ?? [],
      reminder: true,
    });
    const event: HistoryEvent = {
      at,
      type: 'REMINDER_SENT',
      actor,
      detail: { step, partnerId: party.id, recipients: partner?.contacts ?? [], expiresAt: link.expiresAt, ...detail },
    };
    await this.deps.store.appendEvent(transfer.id, event);
    return { ...full, history: [...full.history, event] };
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
      { kind: 'schedule', transfer, wakeAt, recipients: [this.deps.devopsEmail], audience: 'devops' },
      { kind: 'schedule', transfer, wakeAt, recipients: [...partners.from, ...partners.to], audience: 'partner' },
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
    // Re-homing needs the customers' ids, never their domains.
    let transfer = (await this.state(input.transferId)).transfer;
    if (transfer.status === 'CANCELLED') throw new TransferCancelled(`Transfer ${transfer.id} was cancelled.`);
    if (transfer.status === 'COMPLETED') return { outcomes: transfer.outcomes ?? [] };
    if (transfer.status === 'SCHEDULED' || transfer.status === 'FAILED') {
      // From FAILED only when an operator redrives the execution, having fixed the cause.
      const redrive = transfer.status === 'FAILED';
      try {
        await store.changeStatus({
          transferId: transfer.id,
          from: [transfer.status],
          to: 'IN_PROGRESS',
          at: clock.now().toISOString(),
          event: { at: clock.now().toISOString(), type: redrive ? 'REHOME_REDRIVEN' : 'REHOME_STARTED', actor: SYSTEM, detail: {} },
        });
      } catch (error) {
        // A cancel that won the race stands: the customers stay where they are.
        if (error instanceof ConflictError && (await this.state(transfer.id)).transfer.status === 'CANCELLED') {
          throw new TransferCancelled(`Transfer ${transfer.id} was cancelled.`);
        }
        throw error;
      }
      if (redrive) {
        // The failure released the claims of the customers left behind; take them again before moving them.
        const leftBehind = (transfer.outcomes ?? []).filter((o) => o.outcome === 'failed').map((o) => o.customerId);
        await store.reclaim(transfer.id, leftBehind, clock.now().toISOString());
      }
      transfer = (await this.state(input.transferId)).transfer;
    }
    if (transfer.status !== 'IN_PROGRESS') {
      throw new ConflictError('NOT_SCHEDULED', `Transfer ${transfer.id} is ${transfer.status}; it cannot be re-homed.`);
    }
    const today = this.deps.transfers.today();
    // The last day of the lock: a new request is possible the day after.
    const lockedUntil = addDays(today, this.deps.policy.lockDays - 1);
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
      const error = `${failed.length} of ${outcomes.length} customers could not be moved: ${failed.map((f) => f.customerId).join(', ')}`;
      const at = clock.now().toISOString();
      // Customers not moved keep their partner; their claims go, so they can be requested again.
      await store.changeStatus({
        transferId: transfer.id,
        from: ['IN_PROGRESS'],
        to: 'FAILED',
        at,
        releaseClaims: true,
        changes: { outcomes },
        event: { at, type: 'FAILED', actor: SYSTEM, detail: { error, outcomes } },
      });
      this.metrics.transferStatus('FAILED');
      this.metrics.rehomeErrors(failed.length);
      await this.alert(transfer, outcomes, error);
      throw new RehomeFailed(error);
    }
    await store.changeStatus({
      transferId: transfer.id,
      from: ['IN_PROGRESS'],
      to: 'COMPLETED',
      at: clock.now().toISOString(),
      changes: { outcomes },
      event: { at: clock.now().toISOString(), type: 'COMPLETED', actor: SYSTEM, detail: { outcomes, lockedUntil } },
    });
    this.metrics.transferStatus('COMPLETED');
    return { outcomes };
  }

  async sendConfirmations(input: { transferId: string }): Promise<void> {
    const transfer = await this.load(input.transferId);
    if (transfer.status !== 'COMPLETED') {
      throw new ConflictError('NOT_COMPLETED', `Transfer ${transfer.id} is ${transfer.status}; nothing to confirm.`);
    }
    const partners = await this.partnerContacts(transfer);
    await this.sendAll([
      { kind: 'confirmation', transfer, recipients: partners.from, recipientRole: 'previous' },
      { kind: 'confirmation', transfer, recipients: partners.to, recipientRole: 'new' },
    ]);
    await this.deps.store.appendEvent(transfer.id, {
      at: this.deps.clock.now().toISOString(),
      type: 'CONFIRMATIONS_SENT',
      actor: SYSTEM,
      detail: { previousPartner: partners.from, newPartner: partners.to },
    });
  }

  /** Outcomes the state machine reaches by a catch: each recorded on the transfer, and the people concerned told. */
  async recordOutcome(input: { transferId: string; outcome: Outcome; error?: string; cause?: string }): Promise<void> {
    const { store, clock } = this.deps;
    const transfer = await this.load(input.transferId);
    const partners = await this.partnerContacts(transfer);
    const at = clock.now().toISOString();
    switch (input.outcome) {
      case 'DECLINED': {
        const decline = [...transfer.history].reverse().find((e) => e.type === 'DECLINED');
        const step = (decline?.detail.step as Step | undefined) ?? 'release';
        const reason = decline?.detail.reason;
        await this.sendAll([
          {
            kind: 'decline',
            transfer,
            step,
            signedBy: String(decline?.detail.signedBy ?? ''),
            // The consent's ground; a decline recorded before codes has none: OTHER, with its words.
            reasonCode: recordedReasonCode(decline?.detail.reasonCode),
            reason: typeof reason === 'string' && reason.trim() !== '' ? reason : null,
            recipients: [...partners.from, ...partners.to],
          },
        ]);
        await store.appendEvent(transfer.id, { at, type: 'DECLINE_NOTICE_SENT', actor: SYSTEM, detail: { step } });
        return;
      }
      case 'CONFIRMATION_FAILED': {
        const error = describeFailure(input.error, input.cause);
        // The move stands: the transfer stays COMPLETED; the missing notice is recorded (once, though
        // this step is retried while the alert cannot go out) and alerted.
        if (!transfer.history.some((event) => event.type === 'CONFIRMATION_FAILED')) {
          await store.appendEvent(transfer.id, { at, type: 'CONFIRMATION_FAILED', actor: SYSTEM, detail: { error } });
        }
        await this.alert(transfer, transfer.outcomes ?? [], `Confirmations not sent: ${error}`, 'confirmations');
        return;
      }
    }
  }

  /** Ends a transfer whose approval window closed; false when a decision got in first. */
  private async expire(transfer: TransferSummaryWithHistory, step: Step): Promise<boolean> {
    const at = this.deps.clock.now().toISOString();
    if (transfer.status === STEP_STATUS[step]) {
      try {
        await this.deps.store.changeStatus({
          transferId: transfer.id,
          from: [STEP_STATUS[step]],
          to: 'EXPIRED',
          at,
          releaseClaims: true,
          event: { at, type: 'EXPIRED', actor: SYSTEM, detail: { step } },
        });
        this.metrics.transferStatus('EXPIRED');
      } catch (error) {
        if (error instanceof ConflictError && (await this.state(transfer.id)).transfer.status !== 'EXPIRED') return false;
        throw error;
      }
    }
    const [partners, full] = await Promise.all([this.partnerContacts(transfer), this.deps.transfers.withCustomers(transfer)]);
    await this.sendAll([{ kind: 'expiry', transfer: full, step, recipients: [...partners.from, ...partners.to] }]);
    return true;
  }

  /** Operators hear of a failure by email and, on AWS, on the alert topic; either one reaching them is enough. */
  private async alert(
    transfer: TransferSummaryWithHistory,
    outcomes: CustomerOutcome[],
    error: string,
    problem: 'rehome' | 'confirmations' = 'rehome',
  ): Promise<void> {
    const full = await this.deps.transfers.withCustomers(transfer);
    const notice: FailureAlertNotice = { kind: 'failure-alert', transfer: full, outcomes, error, problem, recipients: [this.deps.devopsEmail] };
    const [mailed, published] = await Promise.allSettled([
      this.deps.mailer.send(notice),
      this.deps.alerts.publish(alertSubject(notice), alertMessage(notice)),
    ]);
    const reached = mailed.status === 'fulfilled' || (published.status === 'fulfilled' && published.value);
    if (!reached) throw mailed.status === 'rejected' ? mailed.reason : published.status === 'rejected' ? published.reason : new Error('No alert channel');
  }

  private assertWaiting(transfer: TransferSummaryWithHistory, step: Step): void {
    if (transfer.status === 'CANCELLED') throw new TransferCancelled(`Transfer ${transfer.id} was cancelled.`);
    if (transfer.status !== STEP_STATUS[step]) {
      throw new ConflictError('NOT_WAITING', `Transfer ${transfer.id} is ${transfer.status}, not waiting for the ${step}.`);
    }
  }

  private linkUrl(secret: string): string {
    return `${this.deps.publicBaseUrl.replace(/\/+$/, '')}/approvals/${secret}`;
  }

  /** The transfer with its customers' domains, for the steps that email them. */
  private async load(id: string): Promise<TransferWithHistory> {
    const transfer = await this.deps.store.get(id);
    if (!transfer) throw new Error(`Transfer ${id} does not exist`);
    return transfer;
  }

  /** The transfer's own items (summary, history, steps) in one read. */
  private async state(id: string): Promise<TransferState> {
    const state = await this.deps.store.getState(id);
    if (!state) throw new Error(`Transfer ${id} does not exist`);
    return state;
  }

  private async partnerContacts(transfer: TransferSummaryWithHistory): Promise<{ from: string[]; to: string[] }> {
    const [from, to] = await Promise.all([
      this.deps.directory.getPartner(transfer.fromPartner.id),
      this.deps.directory.getPartner(transfer.toPartner.id),
    ]);
    return { from: from?.contacts ?? [], to: to?.contacts ?? [] };
  }

  private async sendAll(notices: Notice[]): Promise<void> {
    for (const notice of notices) await this.deps.mailer.send(notice);
  }
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
