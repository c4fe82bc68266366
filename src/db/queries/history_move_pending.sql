-- Whether the tables schema/003 left with the version 2 rows (hotel_demand_v2, deliveries_v2) are
-- still there, rows to move into the partitioned ones (move_history in migrations.cpp).
SELECT to_regclass('eventsshop.hotel_demand_v2') IS NOT NULL, to_regclass('eventsshop.deliveries_v2') IS NOT NULL
