-- The PostgreSQL outbox: an event written in the same transaction as the state change it reports,
-- published by the relay (pg-outbox.ts). `shard` spreads keys so several relays work in parallel while
-- each key's rows are published by one relay at a time, in seq order.
CREATE TABLE titan_outbox (
  seq bigserial PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  event_type text NOT NULL,
  topic text NOT NULL,
  partition_key text NOT NULL,
  shard smallint NOT NULL,
  body bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX titan_outbox_unpublished ON titan_outbox (shard, seq) WHERE published_at IS NULL;
CREATE INDEX titan_outbox_published_at ON titan_outbox (published_at) WHERE published_at IS NOT NULL;

-- Idempotent consumers: the event ids each consumer applied, written in the same transaction as the effect.
CREATE TABLE titan_event_applied (
  consumer text NOT NULL,
  event_id text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
CREATE INDEX titan_event_applied_at ON titan_event_applied (applied_at);
