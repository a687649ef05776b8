-- The version of a tenant's setup: every transaction that changes its
-- outlets, registers, order register or methods moves it on, so that a
-- Store may keep them cached and read them again only when it has moved.
ALTER TABLE onlinestock_setup ADD COLUMN version bigint NOT NULL DEFAULT 0;
