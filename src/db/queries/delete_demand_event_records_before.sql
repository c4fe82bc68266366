-- At most $2 of the event records of demand deliveries received more than $1 days ago.
DELETE FROM eventsshop.demand_event_records
WHERE ctid = ANY (ARRAY(SELECT r.ctid FROM eventsshop.demand_event_records r
                        JOIN eventsshop.delivery_digests d ON d.delivery_id = r.delivery_id
                        WHERE d.received_at < now() - make_interval(days => $1) LIMIT $2))
