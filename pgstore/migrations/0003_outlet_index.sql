-- Levels by outlet, for the reads of every product stocked at an outlet
-- (connecting or disconnecting it, changing its buffer), with the outlet
-- first. With the tenant first, as before, a lookup of one product's levels
-- could use this index as well as the primary key, scanning every level of
-- the tenant; the planner picked it whenever its statistics under-counted
-- the tenant's rows, as they do after a bulk load. With the outlet first,
-- it serves no lookup that does not name the outlet.
DROP INDEX onlinestock_levels_by_outlet;
CREATE INDEX onlinestock_levels_by_outlet ON onlinestock_levels (outlet, tenant, product);
