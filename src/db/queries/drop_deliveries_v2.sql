-- Empty: its rows are all in eventsshop.deliveries (its identity's sequence goes with it; ids go on
-- from eventsshop.delivery_ids, set past it by schema/003).
DROP TABLE eventsshop.deliveries_v2
