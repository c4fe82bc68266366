SELECT 1 FROM eventsshop.schema_migrations WHERE version = $1
