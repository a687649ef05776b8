-- Backorder policies: a product may be sold past its online stock, up to
-- a limit, reserving the units at a designated outlet ('' for the primary
-- one). They belong to the setup: a change of them moves the setup's
-- version.
CREATE TABLE onlinestock_backorders (
	tenant          text COLLATE "C" NOT NULL,
	product         text COLLATE "C" NOT NULL,
	backorder_limit bigint NOT NULL,
	expected_ns     bigint,
	outlet          text COLLATE "C" NOT NULL,
	PRIMARY KEY (tenant, product)
);
