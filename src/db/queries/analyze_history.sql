-- Statistics of the partitioned tables once the version 2 rows are in.
ANALYZE eventsshop.deliveries, eventsshop.hotel_demand
