-- This month's and the next $1 months' partitions of deliveries and hotel_demand (schema/003).
SELECT eventsshop.ensure_partitions($1)
