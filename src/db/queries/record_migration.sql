INSERT INTO eventsshop.schema_migrations (version, name) VALUES ($1, $2)
