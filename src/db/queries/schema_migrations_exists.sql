SELECT to_regclass('eventsshop.schema_migrations') IS NOT NULL
