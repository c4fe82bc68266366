-- Repairs of eventsshop.delivery_ids (repair_delivery_ids.sql) take turns, across daemons, so one
-- never sets the sequence below where another has just set it. Any constant will do, as long as
-- every daemon uses the same one: 0x6573725f696473, "esr_ids".
SELECT pg_advisory_xact_lock(28555907711984755)
