-- The one writer of hotel_demand_latest, for every path: the rows of delivery $1, received at $2,
-- given as the JSON array insert_demand took ($3: the small lane, reprocess of a small body), or
-- read back from hotel_demand ($3 NULL: the large lane and reprocess of a large body, whose rows
-- came by COPY). Only one of the two sources is read: the other's one-time filter is false.
--
-- The newest row for a (hotel, day):
--   * between deliveries, the greater (observed_at, delivery_id): so the order in which deliveries
--     are written (group commits, the large lane after its commit, reprocess) does not matter;
--   * within one delivery (the same hotel and day twice), the first by absolute_demand,
--     relative_demand, events_registered, demand_id (each highest first, NULL last), then
--     hotel_name, city, country: chosen on the values alone, because hotel_demand does not keep
--     the rows' order in the body (no ordinal column; its physical order is not the body's once
--     late envelope values are filled in, or once COPY reuses free space), and both sources must
--     choose alike.
-- Rows without hotel_code or stay_date have no place in the table.
--
-- One INSERT ... ON CONFLICT, with no join against hotel_demand_latest: an UPDATE of the existing
-- keys and an INSERT of the rest WHERE NOT EXISTS (the large lane's former pair) was no faster for
-- a 182,500-row matrix on a loaded test machine (0.8 s either way for existing keys, 1.06 s
-- against 0.89 s for new ones); and made one statement, the planner ran that anti-join as a nested
-- loop over a sequential scan of the table the INSERT was filling (minutes, on a table truncated
-- and vacuumed).
WITH r AS (
    SELECT DISTINCT ON (hotel_code, stay_date) hotel_code, stay_date, demand_id, hotel_name, city, country,
           absolute_demand, relative_demand, events_registered
    FROM (SELECT hotel_code, stay_date, demand_id, hotel_name, city, country, absolute_demand, relative_demand,
                 events_registered
          FROM eventsshop.hotel_demand
          WHERE $3::json IS NULL AND delivery_id = $1::bigint
          UNION ALL
          SELECT hotel_code, stay_date, demand_id, hotel_name, city, country, absolute_demand, relative_demand,
                 events_registered
          FROM json_to_recordset($3::json) AS j(demand_id bigint, hotel_code text, hotel_name text, city text,
               country text, stay_date date, absolute_demand bigint, relative_demand double precision,
               events_registered integer)
          WHERE $3::json IS NOT NULL) AS delivery_rows
    WHERE hotel_code IS NOT NULL AND stay_date IS NOT NULL
    ORDER BY hotel_code, stay_date, absolute_demand DESC NULLS LAST, relative_demand DESC NULLS LAST,
             events_registered DESC NULLS LAST, demand_id DESC NULLS LAST, hotel_name, city, country
)
INSERT INTO eventsshop.hotel_demand_latest AS l (hotel_code, stay_date, demand_id, hotel_name, city, country,
                                                 absolute_demand, relative_demand, events_registered, observed_at,
                                                 delivery_id)
SELECT r.hotel_code, r.stay_date, r.demand_id, r.hotel_name, r.city, r.country, r.absolute_demand,
       r.relative_demand, r.events_registered, $2::timestamptz, $1::bigint
FROM r
ON CONFLICT (hotel_code, stay_date) DO UPDATE
SET demand_id = EXCLUDED.demand_id, hotel_name = EXCLUDED.hotel_name, city = EXCLUDED.city,
    country = EXCLUDED.country, absolute_demand = EXCLUDED.absolute_demand,
    relative_demand = EXCLUDED.relative_demand, events_registered = EXCLUDED.events_registered,
    observed_at = EXCLUDED.observed_at, delivery_id = EXCLUDED.delivery_id
WHERE (EXCLUDED.observed_at, EXCLUDED.delivery_id) >= (l.observed_at, l.delivery_id)
