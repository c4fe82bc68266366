-- Rows of delivery $1 streamed before the envelope named its demandId, hotelCode, city or country
-- get them now ($2..$5, '' when it did not), except a row that sent the field itself in a value it
-- could not use: kept under extra._uncoerced by one of the keys $6..$9 (per field), it is the
-- row's own and stays NULL.
UPDATE eventsshop.hotel_demand
SET demand_id = coalesce(demand_id, CASE WHEN (extra->'_uncoerced' ?| $6::text[]) IS NOT TRUE THEN NULLIF($2, '')::bigint END),
    hotel_code = coalesce(hotel_code, CASE WHEN (extra->'_uncoerced' ?| $7::text[]) IS NOT TRUE THEN NULLIF($3, '') END),
    city = coalesce(city, CASE WHEN (extra->'_uncoerced' ?| $8::text[]) IS NOT TRUE THEN NULLIF($4, '') END),
    country = coalesce(country, CASE WHEN (extra->'_uncoerced' ?| $9::text[]) IS NOT TRUE THEN NULLIF($5, '') END)
WHERE delivery_id = $1 AND (demand_id IS NULL OR hotel_code IS NULL OR city IS NULL OR country IS NULL)
