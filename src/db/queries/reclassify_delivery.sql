-- A delivery derived again by reprocess: its kind, record count, classification, and whether its
-- demand rows still await hotel_demand_latest.
UPDATE eventsshop.deliveries SET kind = $2, record_count = $3, classification = $4, latest_pending = $5
WHERE id = $1
