import type { Caller } from './caller.ts';
import { actorOf } from './caller.ts';
import { ConflictError, ForbiddenError } from './errors.ts';
import type { Clock, TransferStorePort } from './ports.ts';
import { extendBody, parseInput, remindBody } from './requests.ts';
import type { TransferService } from './transfer-service.ts';
import type { HistoryEvent, Step, TransferWithHistory } from './transfer.ts';
import type { WorkflowSteps } from './workflow-steps.ts';

/** What an operator does for a stuck approval, on a ticket's behalf: remind now, or give more time. */
export class OperatorActions {
  constructor(
    private readonly deps: { store: TransferStorePort; steps: WorkflowSteps; transfers: TransferService; clock: Clock },
  ) {}

  /** Sends the silent party its current link again, now. */
  async remind(caller: Caller, id: string, rawBody: unknown): Promise<TransferWithHistory> {
    const at = this.deps.clock.now();
    const { transfer, step, link } = await this.waitingStep(caller, id);
    const body = parseInput(remindBody, rawBody, 'reminder');
    return this.deps.steps.sendReminder(transfer, step, link, { actor: actorOf(caller), at, detail: { ticketId: body.ticketId } });
  }

  /** Moves the waiting step's deadline later; the workflow's next reminder or expiry follows the new one. */
  async extend(caller: Caller, id: string, rawBody: unknown): Promise<TransferWithHistory> {
    const { transfer, step, link } = await this.waitingStep(caller, id);
    const body = parseInput(extendBody, rawBody, 'extension');
    const to = new Date(Date.parse(link.expiresAt) + body.days * 86_400_000).toISOString();
    const event: HistoryEvent = {
      at: this.deps.clock.now().toISOString(),
      type: 'WINDOW_EXTENDED',
      actor: actorOf(caller),
      detail: { step, from: link.expiresAt, to, days: body.days, ticketId: body.ticketId },
    };
    await this.deps.store.extendStep({ transferId: transfer.id, step, linkHash: link.linkHash, from: link.expiresAt, to, event });
    // The write was conditional on the step as read: with the new event, this is the transfer as it now stands.
    return { ...transfer, customers: await this.deps.store.getCustomers(transfer), history: [...transfer.history, event] };
  }

  private async waitingStep(caller: Caller, id: string) {
    if (caller.kind !== 'operator') throw new ForbiddenError('Only provider operators can remind or extend a waiting step.');
    // One read: the transfer's own items hold its steps.
    const { transfer, steps } = await this.deps.transfers.visibleState(caller, id);
    const step: Step | null =
      transfer.status === 'AWAITING_RELEASE' ? 'release' : transfer.status === 'AWAITING_ACCEPTANCE' ? 'acceptance' : null;
    const record = step ? steps[step] : undefined;
    if (!step || !record?.linkNonce || !record.linkHash || !record.expiresAt || record.decision) {
      throw new ConflictError('NOT_WAITING', `The transfer is ${transfer.status}; no approval link is waiting for an answer.`, {
        status: transfer.status,
      });
    }
    if (Date.parse(record.expiresAt) <= this.deps.clock.now().getTime()) {
      throw new ConflictError('EXPIRED', `The approval window closed at ${record.expiresAt}.`, { expiresAt: record.expiresAt });
    }
    return { transfer, step, link: { linkNonce: record.linkNonce, linkHash: record.linkHash, expiresAt: record.expiresAt } };
  }

}
