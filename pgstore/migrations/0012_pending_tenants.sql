-- One Worker serving every tenant of a database finds the tenants with work
-- without reading every tenant: a tenant is listed here from the commit of
-- a transaction that wrote events until a Worker finds every event
-- numbered and acknowledged by its consumers and removes it.
CREATE TABLE onlinestock_pending (
	tenant text COLLATE "C" PRIMARY KEY
);
-- Every tenant that may already have events a consumer has not had.
INSERT INTO onlinestock_pending (tenant)
	SELECT tenant FROM onlinestock_event_counter
	UNION SELECT DISTINCT tenant FROM onlinestock_events WHERE seq IS NULL;

-- Open reservations by deadline across tenants: the tenants with one due.
CREATE INDEX onlinestock_reservations_due_by_time ON onlinestock_reservations (deadline_ns, tenant)
	WHERE status = 'open' AND deadline_ns IS NOT NULL;
