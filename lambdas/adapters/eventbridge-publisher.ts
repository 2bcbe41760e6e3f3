import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Config } from '../config.ts';
import type { EventPublisherPort } from '../domain/event-relay.ts';
import { EVENT_SOURCE, type TransferEvent } from '../domain/events.ts';
import { asTransient } from './transient.ts';

/** The provider's event bus (source `customer-transfer`, detail-type the event's type). */
export function eventBridgePublisher(config: Pick<Config, 'EVENT_BUS_NAME'>): EventPublisherPort {
  return new EventBridgePublisher(new EventBridgeClient({}), config.EVENT_BUS_NAME);
}

export class EventBridgePublisher implements EventPublisherPort {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: readonly TransferEvent[]): Promise<string[]> {
    if (events.length === 0) return [];
    const result = await asTransient(() =>
      this.client.send(
        new PutEventsCommand({
          Entries: events.map((event) => ({
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: event.type,
            Detail: JSON.stringify(event),
            Time: new Date(event.occurredAt),
            Resources: [],
          })),
        }),
      ),
    );
    // Entries answer in the order sent; one with an ErrorCode was not accepted.
    return (result.Entries ?? []).flatMap((entry, index) => (entry.ErrorCode ? [events[index]?.id ?? ''] : [])).filter((id) => id !== '');
  }
}
