-- The deliveries whose demand rows are not in hotel_demand_latest yet, oldest first. (Asked every
-- turn, a second apart: counting each one's rows here cost a scan of them every second for as long
-- as one was put off.)
SELECT id, received_at::text FROM eventsshop.deliveries WHERE latest_pending ORDER BY id
