-- Rows of delivery $1 streamed before the envelope named its demandId, hotelCode, city or country
-- get them now ($2..$5, '' when it did not).
UPDATE eventsshop.hotel_demand
SET demand_id = coalesce(demand_id, NULLIF($2, '')::bigint), hotel_code = coalesce(hotel_code, NULLIF($3, '')),
    city = coalesce(city, NULLIF($4, '')), country = coalesce(country, NULLIF($5, ''))
WHERE delivery_id = $1 AND (demand_id IS NULL OR hotel_code IS NULL OR city IS NULL OR country IS NULL)
