-- Before a delivery's rows are derived again (reprocess): its append-only demand observations.
DELETE FROM eventsshop.hotel_demand WHERE delivery_id = $1
