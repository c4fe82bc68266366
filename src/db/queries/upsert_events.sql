-- A batch's events (one row per event and delivery mentioning it, last_delivery_id that delivery;
-- typed_rows.cpp's upsert_events passes them as one array per column) into events. Each field,
-- and each key of extra, takes the value of the highest delivery id that gave it a non-null value:
-- a delivery updates the values it carries, a missing or null one never erases a known value, and
-- the row is the same whatever order the deliveries are applied or commit in (several receivers,
-- several writers, reprocess, a batch split over several statements). The <field>_delivery_id
-- columns and extra_delivery_ids (schema 008) say which delivery gave each stored value; a value
-- is replaced only by one from a delivery id at least as high (equal: the same delivery derived
-- again, by reprocess). A per-field maximum is order-free, where comparing every field with the
-- row's one last_delivery_id was not.
WITH r AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::date[],
                         $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[],
                         $14::text[], $15::text[], $16::text[], $17::text[], $18::double precision[],
                         $19::double precision[], $20::integer[], $21::jsonb[], $22::timestamptz[],
                         $23::bigint[])
        AS r(event_id, name, category, sub_category, description, start_date, end_date, estimated_attendee,
             attendee_min, attendee_max, venue, address, city, state, zip, country, region, lat, lng,
             status_code, extra, seen_at, last_delivery_id)  -- seen_at: the delivery's received_at
),
-- ON CONFLICT cannot touch a row twice in one statement: the deliveries of the batch that mention
-- the same event are merged first, by the same rule. Most events are mentioned once and skip the
-- aggregation (19 ordered aggregates cost ~40 us an event).
s AS (SELECT r.*, count(*) OVER (PARTITION BY r.event_id) AS mentions FROM r),
m AS (
    SELECT s.event_id,
           (array_agg(s.name ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.name IS NOT NULL))[1] AS name,
           (array_agg(s.category ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.category IS NOT NULL))[1] AS category,
           (array_agg(s.sub_category ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.sub_category IS NOT NULL))[1] AS sub_category,
           (array_agg(s.description ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.description IS NOT NULL))[1] AS description,
           (array_agg(s.start_date ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.start_date IS NOT NULL))[1] AS start_date,
           (array_agg(s.end_date ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.end_date IS NOT NULL))[1] AS end_date,
           (array_agg(s.estimated_attendee ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.estimated_attendee IS NOT NULL))[1] AS estimated_attendee,
           (array_agg(s.attendee_min ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.attendee_min IS NOT NULL))[1] AS attendee_min,
           (array_agg(s.attendee_max ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.attendee_max IS NOT NULL))[1] AS attendee_max,
           (array_agg(s.venue ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.venue IS NOT NULL))[1] AS venue,
           (array_agg(s.address ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.address IS NOT NULL))[1] AS address,
           (array_agg(s.city ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.city IS NOT NULL))[1] AS city,
           (array_agg(s.state ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.state IS NOT NULL))[1] AS state,
           (array_agg(s.zip ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.zip IS NOT NULL))[1] AS zip,
           (array_agg(s.country ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.country IS NOT NULL))[1] AS country,
           (array_agg(s.region ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.region IS NOT NULL))[1] AS region,
           (array_agg(s.lat ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.lat IS NOT NULL))[1] AS lat,
           (array_agg(s.lng ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.lng IS NOT NULL))[1] AS lng,
           (array_agg(s.status_code ORDER BY s.last_delivery_id DESC) FILTER (WHERE s.status_code IS NOT NULL))[1] AS status_code,
           max(s.last_delivery_id) FILTER (WHERE s.name IS NOT NULL) AS name_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.category IS NOT NULL) AS category_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.sub_category IS NOT NULL) AS sub_category_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.description IS NOT NULL) AS description_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.start_date IS NOT NULL) AS start_date_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.end_date IS NOT NULL) AS end_date_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.estimated_attendee IS NOT NULL) AS estimated_attendee_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.attendee_min IS NOT NULL) AS attendee_min_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.attendee_max IS NOT NULL) AS attendee_max_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.venue IS NOT NULL) AS venue_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.address IS NOT NULL) AS address_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.city IS NOT NULL) AS city_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.state IS NOT NULL) AS state_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.zip IS NOT NULL) AS zip_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.country IS NOT NULL) AS country_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.region IS NOT NULL) AS region_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.lat IS NOT NULL) AS lat_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.lng IS NOT NULL) AS lng_delivery_id,
           max(s.last_delivery_id) FILTER (WHERE s.status_code IS NOT NULL) AS status_code_delivery_id,
           min(s.seen_at) AS first_seen_at, max(s.seen_at) AS last_seen_at,
           max(s.last_delivery_id) AS last_delivery_id
    FROM s
    WHERE s.mentions > 1
    GROUP BY s.event_id
),
-- Their extra, key by key, from the highest delivery that gave the key a non-null value; a key only
-- ever sent as null is kept as null, with no delivery id (any value replaces it).
mx AS (
    SELECT DISTINCT ON (s.event_id, kv.key) s.event_id, kv.key, kv.value,
           CASE WHEN kv.value <> 'null' THEN s.last_delivery_id END AS delivery_id
    FROM s CROSS JOIN LATERAL jsonb_each(s.extra) AS kv
    WHERE s.mentions > 1
    ORDER BY s.event_id, kv.key, kv.value = 'null', s.last_delivery_id DESC
),
mxe AS (
    SELECT event_id, jsonb_object_agg(key, value) AS extra,
           coalesce(jsonb_object_agg(key, delivery_id) FILTER (WHERE delivery_id IS NOT NULL), '{}') AS delivery_ids
    FROM mx
    GROUP BY event_id
)
INSERT INTO eventsshop.events AS e (
    event_id, name, category, sub_category, description, start_date, end_date, estimated_attendee,
    attendee_min, attendee_max, venue, address, city, state, zip, country, region, lat, lng,
    status_code, name_delivery_id, category_delivery_id, sub_category_delivery_id,
    description_delivery_id, start_date_delivery_id, end_date_delivery_id,
    estimated_attendee_delivery_id, attendee_min_delivery_id, attendee_max_delivery_id,
    venue_delivery_id, address_delivery_id, city_delivery_id, state_delivery_id, zip_delivery_id,
    country_delivery_id, region_delivery_id, lat_delivery_id, lng_delivery_id,
    status_code_delivery_id, extra, extra_delivery_ids, first_seen_at, last_seen_at,
    last_delivery_id)
SELECT s.event_id,
       s.name, s.category, s.sub_category, s.description, s.start_date, s.end_date,
       s.estimated_attendee, s.attendee_min, s.attendee_max, s.venue, s.address, s.city, s.state,
       s.zip, s.country, s.region, s.lat, s.lng, s.status_code,
       CASE WHEN s.name IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.category IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.sub_category IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.description IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.start_date IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.end_date IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.estimated_attendee IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.attendee_min IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.attendee_max IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.venue IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.address IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.city IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.state IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.zip IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.country IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.region IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.lat IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.lng IS NOT NULL THEN s.last_delivery_id END,
       CASE WHEN s.status_code IS NOT NULL THEN s.last_delivery_id END,
       coalesce(s.extra, '{}'::jsonb),
       CASE WHEN s.extra IS NULL THEN '{}'::jsonb
            ELSE coalesce((SELECT jsonb_object_agg(kv.key, s.last_delivery_id) FROM jsonb_each(s.extra) AS kv
                           WHERE kv.value <> 'null'), '{}'::jsonb) END,
       s.seen_at, s.seen_at, s.last_delivery_id
FROM s
WHERE s.mentions = 1
UNION ALL
SELECT m.event_id,
       m.name, m.category, m.sub_category, m.description, m.start_date, m.end_date,
       m.estimated_attendee, m.attendee_min, m.attendee_max, m.venue, m.address, m.city, m.state,
       m.zip, m.country, m.region, m.lat, m.lng, m.status_code, m.name_delivery_id,
       m.category_delivery_id, m.sub_category_delivery_id, m.description_delivery_id,
       m.start_date_delivery_id, m.end_date_delivery_id, m.estimated_attendee_delivery_id,
       m.attendee_min_delivery_id, m.attendee_max_delivery_id, m.venue_delivery_id,
       m.address_delivery_id, m.city_delivery_id, m.state_delivery_id, m.zip_delivery_id,
       m.country_delivery_id, m.region_delivery_id, m.lat_delivery_id, m.lng_delivery_id,
       m.status_code_delivery_id,
       coalesce(mxe.extra, '{}'::jsonb), coalesce(mxe.delivery_ids, '{}'::jsonb),
       m.first_seen_at, m.last_seen_at, m.last_delivery_id
FROM m LEFT JOIN mxe USING (event_id)
-- Rows are locked in event id order, so two batches sharing events wait for each other rather
-- than deadlock.
ORDER BY 1
-- A field is replaced unless the row's value came from a higher delivery id (NULL comparisons:
-- no stored id, any value replaces the NULL; no incoming value, coalesce keeps the stored one).
ON CONFLICT (event_id) DO UPDATE SET
    name = CASE WHEN (EXCLUDED.name_delivery_id >= e.name_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.name, e.name) ELSE e.name END,
    name_delivery_id = greatest(e.name_delivery_id, EXCLUDED.name_delivery_id),
    category = CASE WHEN (EXCLUDED.category_delivery_id >= e.category_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.category, e.category) ELSE e.category END,
    category_delivery_id = greatest(e.category_delivery_id, EXCLUDED.category_delivery_id),
    sub_category = CASE WHEN (EXCLUDED.sub_category_delivery_id >= e.sub_category_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.sub_category, e.sub_category) ELSE e.sub_category END,
    sub_category_delivery_id = greatest(e.sub_category_delivery_id, EXCLUDED.sub_category_delivery_id),
    description = CASE WHEN (EXCLUDED.description_delivery_id >= e.description_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.description, e.description) ELSE e.description END,
    description_delivery_id = greatest(e.description_delivery_id, EXCLUDED.description_delivery_id),
    start_date = CASE WHEN (EXCLUDED.start_date_delivery_id >= e.start_date_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.start_date, e.start_date) ELSE e.start_date END,
    start_date_delivery_id = greatest(e.start_date_delivery_id, EXCLUDED.start_date_delivery_id),
    end_date = CASE WHEN (EXCLUDED.end_date_delivery_id >= e.end_date_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.end_date, e.end_date) ELSE e.end_date END,
    end_date_delivery_id = greatest(e.end_date_delivery_id, EXCLUDED.end_date_delivery_id),
    estimated_attendee = CASE WHEN (EXCLUDED.estimated_attendee_delivery_id >= e.estimated_attendee_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.estimated_attendee, e.estimated_attendee) ELSE e.estimated_attendee END,
    estimated_attendee_delivery_id = greatest(e.estimated_attendee_delivery_id, EXCLUDED.estimated_attendee_delivery_id),
    attendee_min = CASE WHEN (EXCLUDED.attendee_min_delivery_id >= e.attendee_min_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.attendee_min, e.attendee_min) ELSE e.attendee_min END,
    attendee_min_delivery_id = greatest(e.attendee_min_delivery_id, EXCLUDED.attendee_min_delivery_id),
    attendee_max = CASE WHEN (EXCLUDED.attendee_max_delivery_id >= e.attendee_max_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.attendee_max, e.attendee_max) ELSE e.attendee_max END,
    attendee_max_delivery_id = greatest(e.attendee_max_delivery_id, EXCLUDED.attendee_max_delivery_id),
    venue = CASE WHEN (EXCLUDED.venue_delivery_id >= e.venue_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.venue, e.venue) ELSE e.venue END,
    venue_delivery_id = greatest(e.venue_delivery_id, EXCLUDED.venue_delivery_id),
    address = CASE WHEN (EXCLUDED.address_delivery_id >= e.address_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.address, e.address) ELSE e.address END,
    address_delivery_id = greatest(e.address_delivery_id, EXCLUDED.address_delivery_id),
    city = CASE WHEN (EXCLUDED.city_delivery_id >= e.city_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.city, e.city) ELSE e.city END,
    city_delivery_id = greatest(e.city_delivery_id, EXCLUDED.city_delivery_id),
    state = CASE WHEN (EXCLUDED.state_delivery_id >= e.state_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.state, e.state) ELSE e.state END,
    state_delivery_id = greatest(e.state_delivery_id, EXCLUDED.state_delivery_id),
    zip = CASE WHEN (EXCLUDED.zip_delivery_id >= e.zip_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.zip, e.zip) ELSE e.zip END,
    zip_delivery_id = greatest(e.zip_delivery_id, EXCLUDED.zip_delivery_id),
    country = CASE WHEN (EXCLUDED.country_delivery_id >= e.country_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.country, e.country) ELSE e.country END,
    country_delivery_id = greatest(e.country_delivery_id, EXCLUDED.country_delivery_id),
    region = CASE WHEN (EXCLUDED.region_delivery_id >= e.region_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.region, e.region) ELSE e.region END,
    region_delivery_id = greatest(e.region_delivery_id, EXCLUDED.region_delivery_id),
    lat = CASE WHEN (EXCLUDED.lat_delivery_id >= e.lat_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.lat, e.lat) ELSE e.lat END,
    lat_delivery_id = greatest(e.lat_delivery_id, EXCLUDED.lat_delivery_id),
    lng = CASE WHEN (EXCLUDED.lng_delivery_id >= e.lng_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.lng, e.lng) ELSE e.lng END,
    lng_delivery_id = greatest(e.lng_delivery_id, EXCLUDED.lng_delivery_id),
    status_code = CASE WHEN (EXCLUDED.status_code_delivery_id >= e.status_code_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.status_code, e.status_code) ELSE e.status_code END,
    status_code_delivery_id = greatest(e.status_code_delivery_id, EXCLUDED.status_code_delivery_id),
    -- extra, key by key by the same rule; a null never replaces a key's value, it only adds the key.
    extra = CASE WHEN EXCLUDED.extra = '{}' THEN e.extra ELSE e.extra || coalesce((
        SELECT jsonb_object_agg(n.key, n.value)
        FROM jsonb_each(EXCLUDED.extra) AS n
        WHERE CASE WHEN n.value = 'null' THEN NOT e.extra ? n.key
                   ELSE ((EXCLUDED.extra_delivery_ids->>n.key)::bigint
                         >= (e.extra_delivery_ids->>n.key)::bigint) IS NOT FALSE END),
        '{}'::jsonb) END,
    extra_delivery_ids = CASE WHEN EXCLUDED.extra_delivery_ids = '{}' THEN e.extra_delivery_ids ELSE (
        SELECT jsonb_object_agg(k.key, greatest((e.extra_delivery_ids->>k.key)::bigint,
                                                (EXCLUDED.extra_delivery_ids->>k.key)::bigint))
        FROM (SELECT jsonb_object_keys(e.extra_delivery_ids)
              UNION SELECT jsonb_object_keys(EXCLUDED.extra_delivery_ids)) AS k(key)) END,
    first_seen_at = least(e.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = greatest(e.last_seen_at, EXCLUDED.last_seen_at),
    last_delivery_id = greatest(e.last_delivery_id, EXCLUDED.last_delivery_id)
