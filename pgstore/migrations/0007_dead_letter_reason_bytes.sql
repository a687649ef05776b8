-- A dead letter's reason is the message a receiver refused an event with,
-- and may hold any bytes: invalid UTF-8, NUL. Kept as bytea, so it is
-- stored as given and read back byte for byte; the reasons already stored
-- keep their UTF-8 bytes.
ALTER TABLE onlinestock_dead_letters ALTER COLUMN reason TYPE bytea USING convert_to(reason, 'UTF8');
