-- Issue 15: the documented history queries (bench/history-queries.sql, docs/queries.md) in a time
-- that does not grow with the days of history kept. bench/history.sh measures them; docs/scaling.md
-- has the figures before and after this migration.

-- hotel_demand_as_of(t) was DISTINCT ON over every observation received by t: a filter on
-- stay_date or city reached the table only as a filter on a scan of all of it (16 days of a
-- 500 x 365 city: 2.9 million rows read for a city's night, 427 ms, twice the 8-day figure; one
-- hotel's month read 30 rows per day kept). Now the keys come from hotel_demand_latest (one row
-- per hotel and stay date, whatever the history) and each key costs one backward probe of the
-- (hotel_code, stay_date, observed_at) index for its newest observation by t. The function is
-- still inlined, so WHERE hotel_code / city / stay_date on its result filters hotel_demand_latest
-- first. hotel_code, city and stay_date of the result are those of hotel_demand_latest: the same
-- as the observation's for a hotel that stays in its city. A key first received in the second or
-- two hotel_demand_latest trails a large delivery by, or one with a NULL hotel_code or stay_date,
-- is not in the result (the old function grouped the NULL ones).
CREATE OR REPLACE FUNCTION eventsshop.hotel_demand_as_of(as_of timestamptz)
RETURNS SETOF eventsshop.hotel_demand
LANGUAGE sql STABLE AS $$
    SELECT h.delivery_id, h.observed_at, h.demand_id, l.hotel_code, h.hotel_name, l.city, h.country,
           l.stay_date, h.absolute_demand, h.relative_demand, h.events_registered, h.extra
    FROM eventsshop.hotel_demand_latest l
    CROSS JOIN LATERAL (
        SELECT d.delivery_id, d.observed_at, d.demand_id, d.hotel_name, d.country,
               d.absolute_demand, d.relative_demand, d.events_registered, d.extra
        FROM eventsshop.hotel_demand d
        WHERE d.hotel_code = l.hotel_code AND d.stay_date = l.stay_date AND d.observed_at <= as_of
        ORDER BY d.observed_at DESC, d.delivery_id DESC
        LIMIT 1
    ) h
$$;
COMMENT ON FUNCTION eventsshop.hotel_demand_as_of(timestamptz) IS
    'Demand per hotel and stay date as it was known at as_of: the newest observation received by then (one index probe per hotel and stay date of hotel_demand_latest; filter on hotel_code, city, stay_date).';

-- A city's keys in hotel_demand_latest, for the "as of" of a whole city and for city_daily_demand.
CREATE INDEX hotel_demand_latest_city_stay_idx ON eventsshop.hotel_demand_latest (city, stay_date);
