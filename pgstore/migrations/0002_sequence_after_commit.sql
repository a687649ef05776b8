-- Events are numbered after they commit, not at commit. A transaction
-- inserts its events with seq NULL and a pending key: pending_id, drawn from
-- onlinestock_event_pending once per transaction when its events are
-- inserted, and pending_ord, the event's position within the transaction.
-- Readers number the committed unnumbered events of their tenant, in pending
-- key order, under a per-tenant lock, before they read by seq. Rows written
-- before this migration keep their seq and have no pending key.

-- CACHE 1 (the default, spelled out): values must be handed out in the order
-- transactions ask for them, across sessions. A per-session cache would
-- let a later transaction draw a smaller value.
CREATE SEQUENCE onlinestock_event_pending AS bigint CACHE 1;

ALTER TABLE onlinestock_events DROP CONSTRAINT onlinestock_events_pkey;
ALTER TABLE onlinestock_events ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE onlinestock_events ADD COLUMN pending_id bigint;
ALTER TABLE onlinestock_events ADD COLUMN pending_ord integer;
ALTER TABLE onlinestock_events ADD CONSTRAINT onlinestock_events_numbered_or_pending
	CHECK (seq IS NOT NULL OR (pending_id IS NOT NULL AND pending_ord IS NOT NULL));

-- Numbered events, read by seq. Partial, so inserting an unnumbered event
-- does not touch it; "seq > n" implies the predicate, so reads use it.
CREATE UNIQUE INDEX onlinestock_events_by_seq ON onlinestock_events (tenant, seq) WHERE seq IS NOT NULL;
-- Events waiting for their number, in the order they are numbered.
CREATE INDEX onlinestock_events_unnumbered ON onlinestock_events (tenant, pending_id, pending_ord) WHERE seq IS NULL;
