-- An idempotency key remembers the change it was applied to, so that the
-- same key for another change is refused instead of skipped. Keys claimed
-- before this migration have no change recorded (''): they are taken to
-- stand for whatever change uses them next, as they did before.
ALTER TABLE onlinestock_keys ADD COLUMN change text NOT NULL DEFAULT '';
