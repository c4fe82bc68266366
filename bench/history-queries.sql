-- The history queries of docs/queries.md, one source of truth: docs/queries.md quotes each query
-- below verbatim and bench/history.sh times exactly these texts (it refuses to run when the doc
-- differs). Each query follows a "-- query: NAME | what | TARGET_MS" line and runs to the next
-- blank line. Hotel 10042, the stay dates and the as-of time are those the bench fills: its
-- history starts on 2026-01-01, one city matrix a day, stay dates from 2026-03-01.

-- query: latest_month | latest demand for one hotel over a month | 10
SELECT stay_date, absolute_demand, relative_demand, events_registered, observed_at
FROM eventsshop.hotel_demand_latest
WHERE hotel_code = '10042' AND stay_date BETWEEN '2026-06-01' AND '2026-06-30'
ORDER BY stay_date;

-- query: hotel_history | history of one hotel and stay date | 10
SELECT observed_at, absolute_demand, relative_demand
FROM eventsshop.hotel_demand
WHERE hotel_code = '10042' AND stay_date = '2026-06-15'
ORDER BY observed_at;

-- query: as_of_hotel | one hotel's month as of a past date | 10
SELECT stay_date, absolute_demand, relative_demand, observed_at
FROM eventsshop.hotel_demand_as_of('2026-01-20 00:00+00')
WHERE hotel_code = '10042' AND stay_date BETWEEN '2026-06-01' AND '2026-06-30'
ORDER BY stay_date;

-- query: as_of_city | a whole city's night as of a past date | 300
SELECT hotel_code, hotel_name, absolute_demand, relative_demand, observed_at
FROM eventsshop.hotel_demand_as_of('2026-01-20 00:00+00')
WHERE city = 'Barcelona' AND stay_date = '2026-06-15'
ORDER BY hotel_code;

-- query: city_curve | the city's daily demand curve over a year | 300
SELECT stay_date, hotels, absolute_demand, round(avg_relative_demand::numeric, 1) AS relative
FROM eventsshop.city_daily_demand
WHERE city = 'Barcelona' AND stay_date BETWEEN '2026-03-01' AND '2027-02-28'
ORDER BY stay_date;

-- query: events_around | events in the city in the week around a date | 300
SELECT day, name, category, attendee_min, attendee_max
FROM eventsshop.event_days
WHERE city = 'Barcelona' AND day BETWEEN '2026-06-12' AND '2026-06-18'
ORDER BY day, attendee_min DESC NULLS LAST;
