-- What a reservation holds besides its lines and allocations, as one
-- document that no query filters on: why each outlet was chosen, the units
-- fulfilled and released, the partial calls.
ALTER TABLE onlinestock_reservations ADD COLUMN detail jsonb;

-- Order events: the order, the partial call, the units moved.
ALTER TABLE onlinestock_events ADD COLUMN order_detail jsonb;
