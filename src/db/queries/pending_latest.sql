-- The deliveries whose demand rows are not in hotel_demand_latest yet, oldest first, with how many rows each has.
SELECT id, received_at::text,
       (SELECT count(*) FROM eventsshop.hotel_demand h WHERE h.delivery_id = d.id)
FROM eventsshop.deliveries d WHERE latest_pending ORDER BY id
