-- The whole state of every tenant. Every table carries the tenant as the
-- first column of its primary key, and every query names it. Identifiers use
-- the "C" collation so that ORDER BY agrees with Go's byte-wise string order.

-- One row per tenant: the order register. Transactions lock it FOR SHARE
-- (Tx.Setup) or FOR UPDATE (Tx.LockSetup).
CREATE TABLE onlinestock_setup (
	tenant         text COLLATE "C" PRIMARY KEY,
	order_register text COLLATE "C" NOT NULL DEFAULT ''
);

-- The last event sequence number handed out per tenant. Kept apart from the
-- setup row so that taking it at commit never upgrades a lock on that row.
CREATE TABLE onlinestock_event_counter (
	tenant   text COLLATE "C" PRIMARY KEY,
	last_seq bigint NOT NULL
);

CREATE TABLE onlinestock_outlets (
	tenant    text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	name      text NOT NULL,
	connected boolean NOT NULL,
	buffer    bigint NOT NULL,
	rank      bigint NOT NULL,
	PRIMARY KEY (tenant, id)
);

CREATE TABLE onlinestock_registers (
	tenant text COLLATE "C" NOT NULL,
	id     text COLLATE "C" NOT NULL,
	outlet text COLLATE "C" NOT NULL,
	name   text NOT NULL,
	PRIMARY KEY (tenant, id)
);

CREATE TABLE onlinestock_methods (
	tenant text COLLATE "C" NOT NULL,
	id     text COLLATE "C" NOT NULL,
	name   text NOT NULL,
	kind   text NOT NULL,
	outlet text COLLATE "C" NOT NULL,
	rule   text NOT NULL,
	PRIMARY KEY (tenant, id)
);

-- Products are locked FOR UPDATE by transactions that may change their levels.
CREATE TABLE onlinestock_products (
	tenant  text COLLATE "C" NOT NULL,
	id      text COLLATE "C" NOT NULL,
	enabled boolean NOT NULL DEFAULT false,
	PRIMARY KEY (tenant, id)
);

CREATE TABLE onlinestock_levels (
	tenant   text COLLATE "C" NOT NULL,
	product  text COLLATE "C" NOT NULL,
	outlet   text COLLATE "C" NOT NULL,
	on_hand  bigint NOT NULL,
	reserved bigint NOT NULL,
	version  bigint NOT NULL,
	PRIMARY KEY (tenant, product, outlet)
);
-- Connect, Disconnect and buffer changes read the products of one outlet.
CREATE INDEX onlinestock_levels_by_outlet ON onlinestock_levels (tenant, outlet, product);

-- Idempotency keys. Times are Unix nanoseconds throughout the schema, so that
-- they round-trip exactly.
CREATE TABLE onlinestock_keys (
	tenant     text COLLATE "C" NOT NULL,
	key        text COLLATE "C" NOT NULL,
	claimed_ns bigint NOT NULL,
	PRIMARY KEY (tenant, key)
);
CREATE INDEX onlinestock_keys_by_claim ON onlinestock_keys (tenant, claimed_ns);

-- The outbox.
CREATE TABLE onlinestock_events (
	tenant          text COLLATE "C" NOT NULL,
	seq             bigint NOT NULL,
	kind            text NOT NULL,
	time_ns         bigint,
	product         text COLLATE "C" NOT NULL,
	before_quantity bigint NOT NULL,
	before_label    text NOT NULL,
	after_quantity  bigint NOT NULL,
	after_label     text NOT NULL,
	outlet          text COLLATE "C" NOT NULL,
	previous        text COLLATE "C" NOT NULL,
	methods         text[] COLLATE "C",
	PRIMARY KEY (tenant, seq)
);

CREATE TABLE onlinestock_reservations (
	tenant           text COLLATE "C" NOT NULL,
	order_id         text COLLATE "C" NOT NULL,
	method           text COLLATE "C" NOT NULL,
	line_products    text[] COLLATE "C",
	line_quantities  bigint[],
	alloc_products   text[] COLLATE "C",
	alloc_outlets    text[] COLLATE "C",
	alloc_quantities bigint[],
	status           text NOT NULL,
	created_ns       bigint,
	deadline_ns      bigint,
	PRIMARY KEY (tenant, order_id)
);
CREATE INDEX onlinestock_reservations_due ON onlinestock_reservations (tenant, deadline_ns, order_id)
	WHERE status = 'open' AND deadline_ns IS NOT NULL;

CREATE TABLE onlinestock_cursors (
	tenant   text COLLATE "C" NOT NULL,
	consumer text COLLATE "C" NOT NULL,
	seq      bigint NOT NULL,
	PRIMARY KEY (tenant, consumer)
);

CREATE TABLE onlinestock_dead_letters (
	tenant   text COLLATE "C" NOT NULL,
	consumer text COLLATE "C" NOT NULL,
	seq      bigint NOT NULL,
	reason   text NOT NULL,
	time_ns  bigint,
	PRIMARY KEY (tenant, consumer, seq)
);
