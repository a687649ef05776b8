-- What a reservation holds besides its lines and allocations, as one
-- document: why each outlet was chosen.
ALTER TABLE onlinestock_reservations ADD COLUMN detail jsonb;
