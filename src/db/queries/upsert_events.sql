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
-- A statement whose events are each mentioned once is upsert_distinct_events.sql: the same rows
-- without the merge, whose plan nodes (window, sorts, 40 aggregates) cost ~90 us to start per
-- execution even when they get no row.
WITH r AS (
\ir parts/events_mentions.sql
),
-- ON CONFLICT cannot touch a row twice in one statement: the deliveries of the batch that mention
-- the same event are merged first, by the same rule. The events mentioned once skip the
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
\ir parts/events_insert.sql
\ir parts/events_single_mention.sql
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
\ir parts/events_on_conflict.sql
