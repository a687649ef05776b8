-- The background runtime: leases that let one process at a time do a piece
-- of work for a tenant (deliver events to a consumer), and indexes for
-- retention.

-- A lease is held by holder until expires_at, by the database's clock, so
-- that processes with skewed clocks agree on when it ends.
CREATE TABLE onlinestock_leases (
	tenant     text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	holder     text COLLATE "C" NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (tenant, name)
);

-- Retention deletes closed reservations, oldest first.
CREATE INDEX onlinestock_reservations_closed ON onlinestock_reservations (tenant, created_ns, order_id)
	WHERE status <> 'open';
