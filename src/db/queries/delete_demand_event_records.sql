-- Before a delivery's rows are derived again (reprocess): its append-only demand event records.
DELETE FROM eventsshop.demand_event_records WHERE delivery_id = $1
