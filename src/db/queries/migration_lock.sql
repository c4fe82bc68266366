-- Serialises migrating daemons. Any constant will do, as long as every daemon uses the same one: 0x6573725f6d6967, "esr_mig".
SELECT pg_advisory_xact_lock(28555907712248167)
