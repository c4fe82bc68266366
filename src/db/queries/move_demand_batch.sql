-- One batch of the version 2 demand rows: those on hotel_demand_v2's pages [$1, $2) (a TID range
-- scan: the table has no key, and a batch reads only its own pages), deleted there and inserted
-- into the partitioned table in the same statement. What is left in hotel_demand_v2 is what remains
-- to move: a batch rolled back leaves its rows there, one committed leaves none.
WITH m AS (
    DELETE FROM eventsshop.hotel_demand_v2 WHERE ctid >= $1::tid AND ctid < $2::tid RETURNING *
)
INSERT INTO eventsshop.hotel_demand (delivery_id, observed_at, demand_id, hotel_code, hotel_name, city, country,
                                     stay_date, absolute_demand, relative_demand, events_registered, extra)
SELECT delivery_id, observed_at, demand_id, hotel_code, hotel_name, city, country, stay_date, absolute_demand,
       relative_demand, events_registered, extra
FROM m
