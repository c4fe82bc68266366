-- The demand rows of delivery $3 (received at $2), passed as one JSON array ($1): how a parsed
-- delivery's rows come in (the small lane, reprocess). A large one COPYs them (DemandCopy).
INSERT INTO eventsshop.hotel_demand (delivery_id, observed_at, demand_id, hotel_code, hotel_name, city, country,
                                     stay_date, absolute_demand, relative_demand, events_registered, extra)
SELECT $3::bigint, $2::timestamptz, r.demand_id, r.hotel_code, r.hotel_name, r.city, r.country, r.stay_date,
       r.absolute_demand, r.relative_demand, r.events_registered, r.extra
FROM json_to_recordset($1::json) AS r(demand_id bigint, hotel_code text, hotel_name text, city text, country text,
     stay_date date, absolute_demand bigint, relative_demand double precision, events_registered integer, extra jsonb)
