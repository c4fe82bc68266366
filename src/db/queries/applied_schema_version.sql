SELECT coalesce(max(version), 0) FROM eventsshop.schema_migrations
