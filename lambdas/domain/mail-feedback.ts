import type { AlertPort, DirectoryPort, TransferStorePort } from './ports.ts';
import type { Actor, HistoryEvent, TransferSummaryWithHistory } from './transfer.ts';

/** The email tag naming the transfer an email is about (transfer ids are letters, digits and dashes, as SES tag values must be). */
export const MAIL_TAG_TRANSFER = 'transferId';

/** A contact's address bounced for good, or its owner complained: history event type. */
export const CONTACT_BOUNCED = 'CONTACT_BOUNCED';
/** Every contact of a party bounced: the party can no longer be reached by email. History event type. */
export const PARTY_UNREACHABLE = 'PARTY_UNREACHABLE';

const SES: Actor = { kind: 'system', name: 'ses' };

/** What SES told of one email of a transfer: a bounce (permanent or not) or a complaint, for these recipients. */
export interface MailFeedback {
  transferId: string;
  kind: 'bounce' | 'complaint';
  /** A permanent (hard) bounce; a complaint counts as one. */
  permanent: boolean;
  addresses: readonly string[];
  at: string;
}

export interface MailFeedbackDeps {
  /** The transfer with its history only (`getState`: one query, never the customers' domain snapshots). */
  store: Pick<TransferStorePort, 'getState' | 'appendEvent'>;
  directory: Pick<DirectoryPort, 'getPartner'>;
  alerts: AlertPort;
}

const normalized = (address: string) => address.trim().toLowerCase();

/** The addresses a transfer's history records as bounced (or complained about), lower-cased. */
export function bouncedAddresses(history: readonly HistoryEvent[]): Set<string> {
  return new Set(history.filter((event) => event.type === CONTACT_BOUNCED).map((event) => normalized(String(event.detail.address))));
}

/** The parties a transfer's history records as unreachable. */
export function unreachableParties(history: readonly HistoryEvent[]): string[] {
  return history.filter((event) => event.type === PARTY_UNREACHABLE).map((event) => String(event.detail.partnerId));
}

/**
 * Records bounces and complaints of a transfer's emails: each address once, as a history event naming
 * whose contact it is; once every contact of a party has bounced, the party is recorded unreachable (once)
 * and operators are alerted, since no approval link, reminder or notice can reach it any more.
 * A transient bounce (a full mailbox, a server down) is not recorded: SES tried again.
 */
export class MailFeedbackRecorder {
  constructor(private readonly deps: MailFeedbackDeps) {}

  async record(feedback: MailFeedback): Promise<{ recorded: string[]; unreachable: string[] }> {
    const none = { recorded: [], unreachable: [] };
    if (feedback.kind === 'bounce' && !feedback.permanent) return none;
    const transfer = (await this.deps.store.getState(feedback.transferId))?.transfer;
    // A transfer removed by its retention (or never there): nothing to record it on.
    if (transfer === undefined) return none;
    const parties = await this.parties(transfer);
    const bounced = bouncedAddresses(transfer.history);
    const recorded: string[] = [];
    for (const address of new Set(feedback.addresses.map(normalized))) {
      if (bounced.has(address)) continue;
      const party = parties.find(({ contacts }) => contacts.includes(address));
      await this.deps.store.appendEvent(transfer.id, {
        at: feedback.at,
        type: CONTACT_BOUNCED,
        actor: SES,
        detail: { address, partnerId: party?.id ?? null, feedback: feedback.kind },
      });
      recorded.push(address);
    }
    // Read again after recording: feedback of the same transfer recorded meanwhile (another message, handled
    // at once) counts too, so the last of a party's bounces flags it whichever message it came in.
    const history = recorded.length === 0 ? transfer.history : (await this.deps.store.getState(transfer.id))?.transfer.history;
    // Removed meanwhile (by its retention): no party to flag on it.
    if (history === undefined) return { recorded, unreachable: [] };
    const bouncedNow = bouncedAddresses(history);
    const known = unreachableParties(history);
    const unreachable = parties.filter(({ id, contacts }) => contacts.length > 0 && contacts.every((contact) => bouncedNow.has(contact)) && !known.includes(id));
    for (const party of unreachable) {
      await this.deps.store.appendEvent(transfer.id, { at: feedback.at, type: PARTY_UNREACHABLE, actor: SES, detail: { partnerId: party.id } });
      await this.deps.alerts.publish(
        `Transfer ${transfer.id}: ${party.id} cannot be reached by email`,
        `Every contact of ${party.name} (${party.id}) bounced or complained: ${party.contacts.join(', ')}. ` +
          `Transfer ${transfer.id} (${transfer.status}) cannot reach it with approval links, reminders or notices. ` +
          'Have the partner correct its contacts in the directory, then remind or extend the step if one waits.',
      );
    }
    return { recorded, unreachable: unreachable.map(({ id }) => id) };
  }

  /** Both parties with their contacts as the directory has them now, lower-cased; a party gone from it has none. */
  private async parties(transfer: TransferSummaryWithHistory): Promise<{ id: string; name: string; contacts: string[] }[]> {
    return Promise.all(
      [transfer.fromPartner, transfer.toPartner].map(async (ref) => {
        const partner = await this.deps.directory.getPartner(ref.id);
        return { id: ref.id, name: partner?.name ?? ref.name, contacts: (partner?.contacts ?? []).map(normalized) };
      }),
    );
  }
}
