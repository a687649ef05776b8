-- The stock ledger: one row per change of a level's on-hand or reserved
-- count. Movements are numbered after they commit, like events (see
-- 0002): a transaction inserts them with seq NULL under its pending key,
-- drawn from onlinestock_event_pending, and readers number the committed
-- ones in pending-key order under a per-tenant lock.
CREATE TABLE onlinestock_movements (
	tenant         text COLLATE "C" NOT NULL,
	seq            bigint,
	pending_id     bigint,
	pending_ord    integer,
	time_ns        bigint NOT NULL,
	product        text COLLATE "C" NOT NULL,
	outlet         text COLLATE "C" NOT NULL,
	kind           text NOT NULL,
	reason         text NOT NULL DEFAULT '',
	ref            text COLLATE "C" NOT NULL DEFAULT '',
	on_hand_delta  bigint NOT NULL,
	reserved_delta bigint NOT NULL,
	on_hand        bigint NOT NULL,
	reserved       bigint NOT NULL,
	version        bigint NOT NULL,
	CONSTRAINT onlinestock_movements_numbered_or_pending
		CHECK (seq IS NOT NULL OR (pending_id IS NOT NULL AND pending_ord IS NOT NULL))
);

-- Numbered movements, read and pruned by seq.
CREATE UNIQUE INDEX onlinestock_movements_by_seq ON onlinestock_movements (tenant, seq) WHERE seq IS NOT NULL;
-- Movements waiting for their number, in the order they are numbered.
CREATE INDEX onlinestock_movements_unnumbered ON onlinestock_movements (tenant, pending_id, pending_ord) WHERE seq IS NULL;
-- A product's history (at one outlet, or all), and a document's.
CREATE INDEX onlinestock_movements_by_product ON onlinestock_movements (tenant, product, outlet, seq) WHERE seq IS NOT NULL;
CREATE INDEX onlinestock_movements_by_ref ON onlinestock_movements (tenant, ref, seq) WHERE seq IS NOT NULL AND ref <> '';

-- The last movement number handed out, per tenant.
CREATE TABLE onlinestock_movement_counter (
	tenant   text COLLATE "C" NOT NULL PRIMARY KEY,
	last_seq bigint NOT NULL
);
