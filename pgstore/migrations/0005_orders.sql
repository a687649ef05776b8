-- What a reservation holds besides its lines and allocations, as one
-- document that no query filters on: why each outlet was chosen, the units
-- fulfilled and released, the partial calls.
ALTER TABLE onlinestock_reservations ADD COLUMN detail jsonb;

-- Order events: the order, the partial call, the units moved.
ALTER TABLE onlinestock_events ADD COLUMN order_detail jsonb;

-- Listing reservations by status, a page at a time in order ID order.
CREATE INDEX onlinestock_reservations_by_status ON onlinestock_reservations (tenant, status, order_id);
