-- Whether deliveries_v2 still holds a row.
SELECT EXISTS (SELECT 1 FROM eventsshop.deliveries_v2)
