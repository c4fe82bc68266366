-- A large delivery, once parsed: its kind, record count and classification, and its body (sent last).
UPDATE eventsshop.deliveries SET kind = $2, record_count = $3, classification = $4, body = $5, latest_pending = $6
WHERE id = $1
