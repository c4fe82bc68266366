COMMENT ON TABLE eventsshop.schema_migrations IS
    'Which numbered files of schema/ have been applied; written by eventsshop-receiver migrate.'
