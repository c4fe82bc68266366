SELECT id, kind, record_count FROM eventsshop.deliveries WHERE body_sha256 = $1
