/** The events area's error catalogue: envelopes, payload schemas, outbox records and the buses. */
import { defineErrors } from '../kit/index.ts';

export const EventErrors = defineErrors({
  EVENT_INVALID: { status: 422, message: 'The event does not match its schema' },
  EVENT_UNKNOWN_TYPE: { status: 422, message: 'No schema for this event type and version' },
  EVENT_DECODE_FAILED: { status: 422, message: 'The message is not a decodable event envelope' },
  OUTBOX_RECORD_INVALID: { status: 422, message: 'A cell outbox entry cannot be decoded' },
  BUS_CLOSED: { status: 503, message: 'The event bus is closed' },
  BUS_TIMEOUT: { status: 503, message: 'The event bus did not answer in time' },
});
