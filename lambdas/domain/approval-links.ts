import { createHash, createHmac, randomBytes } from 'node:crypto';
import { SIGNER_PLACEHOLDER, statementFor } from './consent.ts';
import { addDays } from './dates.ts';
import { ConflictError, ValidationError } from './errors.ts';
import type { ApprovalLink, Clock, TransferState, TransferStorePort } from './ports.ts';
import { approvalForm, parseInput, type ApprovalForm } from './requests.ts';
import type { DecisionResult, RequestMeta, TransferService } from './transfer-service.ts';
import { STEP_STATUS, type ConsentRecord, type PartyRef, type Step, type TransferSummaryWithHistory, type TransferWithHistory } from './transfer.ts';

/** A fresh random nonce per link (128 bits from the CSPRNG); stored with the step so a reminder can re-send the link. */
export function newLinkNonce(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * A link's secret: 256 bits, HMAC-derived from the server's link key, the step and the link's random
 * nonce. Only its hash is stored; the same link can be sent again in a reminder without storing it.
 */
export function linkSecret(key: Buffer, transferId: string, step: Step, nonce: string): string {
  return createHmac('sha256', key).update(`${transferId}\n${step}\n${nonce}`, 'utf8').digest('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type LinkProblem = 'not-found' | 'expired' | 'used' | 'superseded' | 'closed';

export interface ApprovalView {
  transfer: TransferWithHistory;
  step: Step;
  partner: PartyRef;
  statement: string;
  today: string;
  latestDate: string;
  expiresAt: string;
}

/** A link that cannot be used, and what is known of its transfer (customers without domains). */
export type LinkProblemState = { kind: 'problem'; problem: LinkProblem; transfer?: TransferSummaryWithHistory; consent?: ConsentRecord; step?: Step };

export type LinkState = { kind: 'open'; view: ApprovalView; link: ApprovalLink } | LinkProblemState;

export type LinkDecision =
  | { kind: 'recorded'; result: DecisionResult; step: Step }
  | { kind: 'invalid'; view: ApprovalView; errors: { field: string; message: string }[]; values: Record<string, unknown> }
  | LinkProblemState;

type FoundLink = { kind: 'open'; link: ApprovalLink; state: TransferState } | LinkProblemState;

/** Approval links: opening one only shows the page; only the signed form's POST decides. */
export class ApprovalLinks {
  constructor(
    private readonly store: TransferStorePort,
    private readonly transfers: TransferService,
    private readonly clock: Clock,
    private readonly maxDaysAhead: number,
  ) {}

  /** The page of a link: the request with its customers' domains and the form, or the problem that stops it. */
  async open(secret: string): Promise<LinkState> {
    const found = await this.find(secret);
    if (found.kind === 'problem') return found;
    return { kind: 'open', link: found.link, view: await this.view(found.link, found.state.transfer) };
  }

  /** The link and its transfer's own items (two reads), or the problem that stops the link. */
  private async find(secret: string): Promise<FoundLink> {
    if (!SECRET_PATTERN.test(secret)) return { kind: 'problem', problem: 'not-found' };
    const link = await this.store.getLink(hashSecret(secret));
    if (!link) return { kind: 'problem', problem: 'not-found' };
    const state = await this.store.getState(link.transferId);
    if (!state) return { kind: 'problem', problem: 'not-found' };
    const { transfer } = state;
    if (link.state === 'used') {
      const decision = state.steps[link.step]?.decision;
      return { kind: 'problem', problem: 'used', transfer, step: link.step, ...(decision ? { consent: decision } : {}) };
    }
    if (link.state === 'superseded') return { kind: 'problem', problem: 'superseded', transfer, step: link.step };
    if (transfer.status === 'EXPIRED' || Date.parse(link.expiresAt) <= this.clock.now().getTime()) {
      return { kind: 'problem', problem: 'expired', transfer, step: link.step };
    }
    if (transfer.status !== STEP_STATUS[link.step]) return { kind: 'problem', problem: 'closed', transfer, step: link.step };
    return { kind: 'open', link, state };
  }

  private async view(link: ApprovalLink, summary: TransferSummaryWithHistory): Promise<ApprovalView> {
    const transfer = await this.transfers.withCustomers(summary);
    const today = this.transfers.today();
    const partner = link.step === 'release' ? transfer.fromPartner : transfer.toPartner;
    return {
      transfer,
      step: link.step,
      partner,
      statement: statementFor(link.step, { ...transfer, signedBy: SIGNER_PLACEHOLDER }),
      today,
      latestDate: addDays(today, this.maxDaysAhead),
      expiresAt: link.expiresAt,
    };
  }

  async decide(secret: string, form: Record<string, string>, meta: RequestMeta): Promise<LinkDecision> {
    const found = await this.find(secret);
    if (found.kind === 'problem') return this.answerAgain(found, form);
    const { link, state } = found;
    let parsed: ApprovalForm;
    try {
      parsed = parseInput(approvalForm, form, 'form');
      const allowed = link.step === 'release' ? ['release', 'decline'] : ['accept', 'decline'];
      if (!allowed.includes(parsed.decision)) {
        throw new ValidationError('decision not allowed', { issues: [{ field: 'decision', message: `choose ${allowed.join(' or ')}` }] });
      }
      const issues: { field: string; message: string }[] = [];
      if (!parsed.acknowledge) issues.push({ field: 'acknowledge', message: 'tick the box to confirm this is your written, signed decision' });
      // A ground from the list may stand alone; "another reason" (or none chosen) needs the words.
      const needsWords = !parsed.reasonCode || parsed.reasonCode === 'OTHER';
      if (parsed.decision === 'decline' && needsWords && (!parsed.reason || parsed.reason.length < 3)) {
        issues.push({ field: 'reason', message: 'say why you decline, in a few words' });
      }
      if (parsed.decision === 'release' && !parsed.immediate && !parsed.transferDate) {
        issues.push({ field: 'transferDate', message: 'choose a transfer date, or tick "immediate"' });
      }
      if (issues.length > 0) throw new ValidationError('form incomplete', { issues });
    } catch (error) {
      if (error instanceof ValidationError) return { kind: 'invalid', view: await this.view(link, state.transfer), errors: issuesOf(error), values: form };
      throw error;
    }

    const body =
      parsed.decision === 'decline'
        ? {
            decision: 'decline' as const,
            reasonCode: parsed.reasonCode || 'OTHER',
            ...(parsed.reason ? { reason: parsed.reason } : {}),
            signedBy: parsed.signedBy,
          }
        : parsed.decision === 'release'
          ? { decision: 'release' as const, transferDate: parsed.immediate ? ('immediate' as const) : (parsed.transferDate ?? ''), signedBy: parsed.signedBy }
          : { decision: 'accept' as const, signedBy: parsed.signedBy };
    try {
      const result = await this.transfers.decide({
        transfer: state.transfer,
        recorded: state.steps[link.step] ?? null,
        ...(state.invoiceDays ? { invoiceDays: state.invoiceDays } : {}),
        // The page shows each customer's domain count: no domains to read.
        withDomains: false,
        step: link.step,
        body,
        actor: { kind: 'partner', partnerId: link.partnerId, name: parsed.signedBy },
        via: 'link',
        linkHash: link.hash,
        meta,
      });
      return { kind: 'recorded', result, step: link.step };
    } catch (error) {
      if (error instanceof ValidationError) return { kind: 'invalid', view: await this.view(link, state.transfer), errors: issuesOf(error), values: form };
      if (error instanceof ConflictError) {
        // Someone decided first (another tab, a double submit): answer with what stands now.
        const now = await this.find(secret);
        return now.kind === 'problem' ? this.answerAgain(now, form) : { kind: 'problem', problem: 'closed', transfer: now.state.transfer };
      }
      throw error;
    }
  }

  /** A second submission of the same form answers with the decision already recorded. */
  private async answerAgain(state: LinkProblemState, form: Record<string, string>): Promise<LinkDecision> {
    const { transfer, consent, step } = state;
    if (state.problem !== 'used' || !transfer || !consent || !step || !sameDecision(consent, form)) return state;
    await this.transfers.deliver(transfer.id, step);
    const at = transfer.history.find((e) => e.detail.step === step && e.detail.decision === consent.decision)?.at;
    return { kind: 'recorded', step, result: { consent, at: at ?? transfer.updatedAt, repeated: true, transfer } };
  }
}

function sameDecision(consent: ConsentRecord, form: Record<string, string>): boolean {
  return consent.decision === form.decision && consent.signedBy === (form.signedBy ?? '').trim();
}

function issuesOf(error: ValidationError): { field: string; message: string }[] {
  const details = error.details as { issues?: { field: string; message: string }[] } | undefined;
  return details?.issues ?? [{ field: 'form', message: error.message }];
}
